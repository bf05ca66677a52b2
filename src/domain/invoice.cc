#include "domain/invoice.h"

#include <cstdio>

#include "common/uuid.h"
#include "domain/document.h"
#include "domain/money.h"

namespace fsm::domain::invoice {
namespace {

using nlohmann::json;

std::int64_t cents(const EntityState& s, const char* field) {
  auto it = s.fields.find(field);
  return it != s.fields.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

// The status that paid_cents implies for an invoice that has been sent.
std::string status_for(std::int64_t paid, std::int64_t total, const std::string& unpaid_status) {
  if (paid <= 0) return unpaid_status;
  return paid >= total ? "paid" : "partial";
}

}  // namespace

const std::vector<std::string>& statuses() {
  static const std::vector<std::string> s = {"draft", "sent", "partial", "overdue", "paid", "void"};
  return s;
}

const std::vector<FieldSpec>& create_fields() {
  static const std::vector<FieldSpec> f = {uuid_field("client_id", true),
                                           uuid_field("job_id", false),
                                           uuid_field("property_id", false),
                                           uuid_field("estimate_id", false),
                                           document::tax_rate_field(),
                                           text_field("notes", false, 5000),
                                           time_field("due_date")};
  return f;
}

const std::vector<FieldSpec>& patch_fields() {
  static const std::vector<FieldSpec> f = document::patchable(create_fields());
  return f;
}

const std::vector<std::string>& payment_methods() {
  static const std::vector<std::string> m = {"cash", "check", "card", "transfer", "other"};
  return m;
}

const std::vector<FieldSpec>& payment_fields() {
  static const std::vector<FieldSpec> f = {
      {"amount_cents", FieldType::kInt, true, false, 0, {}, 1, money::kMaxCents},
      enum_field("method", payment_methods(), true),
      time_field("received_at"),
      text_field("notes", false, 5000)};
  return f;
}

bool transition_allowed(const std::string& from, const std::string& to) {
  static const TransitionTable t = {
      {"draft", {"sent", "void"}},
      {"sent", {"partial", "paid", "overdue", "void"}},
      {"partial", {"paid", "overdue", "void"}},
      {"overdue", {"partial", "paid", "void"}},
  };
  return allowed(t, from, to);
}

json draft(const json& fields) {
  json d = fields;
  d["status"] = "draft";
  d["paid_cents"] = 0;
  d["sent_at"] = nullptr;
  d["paid_at"] = nullptr;
  return d;
}

Result<Creation> create(const json& fields, const std::string& account_id) {
  json d = draft(fields);
  if (auto e = document::price(d, fields["line_items"], document::tax_of(fields, nullptr))) {
    return *e;
  }
  auto refs = document::references(d);
  if (d["estimate_id"].is_string()) {
    // An estimate's invoice is unique (an index): a second one is a 409.
    refs.push_back({"estimate", d["estimate_id"], bad_reference("estimate_id", "estimate")});
  }
  return Creation{created(kKind, std::move(d), account_id), std::move(refs)};
}

Result<Events> patch(const EntityState& invoice, const json& patch) {
  const std::string status = invoice.str("status");
  if (status != "draft") {
    return Error::of(ErrorCode::kImmutableEntity, "a " + status + " invoice cannot be changed");
  }
  auto changes = document::repriced(invoice, patch);
  if (!changes) return changes.error();
  return update_events(kKind, invoice, *changes);
}

std::vector<Reference> patch_references(const EntityState& invoice, const json& patch) {
  return document::references(merged(invoice, patch), &patch);
}

Result<Events> transition(const EntityState& invoice, const std::string& to,
                          const std::string& now) {
  if (auto e = check_status(statuses(), to, "invoice")) return *e;
  const std::string from = invoice.str("status");
  if (!transition_allowed(from, to)) return invalid_transition("invoice", from, to);
  const auto paid = cents(invoice, "paid_cents"), total = cents(invoice, "total_cents");
  if (to == "paid" && paid < total) {
    return Error::of(ErrorCode::kInvalidTransition,
                     "an invoice is paid only once paid_cents reaches total_cents");
  }
  if (to == "partial" && !(paid > 0 && paid < total)) {
    return Error::of(ErrorCode::kInvalidTransition,
                     "an invoice is partial only while 0 < paid_cents < total_cents");
  }
  // `sent` and `overdue` mean money is owed: an invoice whose paid_cents
  // already covers total_cents (a zero total) would be an unpaid "paid" one.
  if ((to == "sent" || to == "overdue") && paid >= total) {
    return Error::of(ErrorCode::kInvalidTransition,
                     "an invoice is " + to + " only while paid_cents < total_cents; this one (" +
                         std::to_string(paid) + " of " + std::to_string(total) +
                         " cents) has nothing to pay (void it instead)");
  }
  json changes = json::object();
  if (to == "sent") changes["sent_at"] = now;
  if (to == "paid") changes["paid_at"] = now;
  return Events{status_event(kKind.name, invoice, to, std::move(changes))};
}

std::string numbering_stream(const std::string& account_id) {
  const std::string h = sha256_hex("invoice-numbers:" + account_id);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

DomainEvent number_assigned(const std::string& invoice_id, int number) {
  return {kInvoiceNumberAssigned, {{"invoice_id", invoice_id}, {"number", number}}};
}

std::string number_text(int number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "INV-%04d", number);
  return buf;
}

void number(DomainEvent& created, int n) {
  created.data["invoice_number"] = number_text(n);
}

Result<Events> record_payment(const EntityState& invoice, json payment, const std::string& now) {
  if (payment["received_at"].is_null()) payment["received_at"] = now;
  const std::int64_t amount_cents = payment.value("amount_cents", std::int64_t{0});
  const std::string status = invoice.str("status");
  if (status != "sent" && status != "partial" && status != "overdue") {
    return Error::of(ErrorCode::kInvalidTransition,
                     "payments are recorded only on sent, partial or overdue invoices");
  }
  const auto paid = cents(invoice, "paid_cents"), total = cents(invoice, "total_cents");
  const auto balance = total - paid;
  if (amount_cents <= 0 || amount_cents > balance) {
    return Error::validation(
        {{{"amount_cents"},
          "must be > 0 and at most the balance (" + std::to_string(balance) + ")"}});
  }
  const std::int64_t now_paid = paid + amount_cents;
  const std::string to = status_for(now_paid, total, status);
  json changes = {{"paid_cents", now_paid}, {"status", to}};
  if (to == "paid") changes["paid_at"] = now;
  return Events{{kInvoicePaymentRecorded, {{"payment", payment}, {"changes", changes}}}};
}

Result<Events> remove_payment(const EntityState& invoice, const std::string& payment_id,
                              std::int64_t amount_cents, bool past_due) {
  const std::string status = invoice.str("status");
  if (status == "void") {
    return Error::of(ErrorCode::kImmutableEntity, "a void invoice's payments cannot change");
  }
  const auto paid = cents(invoice, "paid_cents"), total = cents(invoice, "total_cents");
  const std::int64_t now_paid = paid - amount_cents;
  if (amount_cents <= 0 || now_paid < 0) {
    return Error::of(ErrorCode::kConflict, "the payment is not part of this invoice's balance");
  }
  const std::string to = status_for(now_paid, total, past_due ? "overdue" : "sent");
  json changes = {{"paid_cents", now_paid}, {"status", to}};
  if (to != "paid") changes["paid_at"] = nullptr;
  return Events{
      {kInvoicePaymentRemoved,
       {{"payment_id", payment_id}, {"amount_cents", amount_cents}, {"changes", changes}}}};
}

}  // namespace fsm::domain::invoice

#include "domain/documents.h"

#include <map>
#include <set>

namespace fsm::domain {
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

bool estimate_transition_allowed(const std::string& from, const std::string& to) {
  static const TransitionTable t = {
      {"draft", {"sent"}}, {"sent", {"approved", "declined", "expired"}}};
  return allowed(t, from, to);
}

Result<Events> decide_estimate_transition(const EntityState& estimate, const std::string& to,
                                          const std::string& now) {
  static const std::set<std::string> kStatuses = {"draft", "sent", "approved", "declined",
                                                  "expired"};
  if (!kStatuses.count(to)) return Error::validation({{{"status"}, "is not an estimate status"}});
  const std::string from = estimate.str("status");
  if (!estimate_transition_allowed(from, to)) return invalid_transition("estimate", from, to);
  json changes = json::object();
  if (to == "sent") changes["sent_at"] = now;
  return Events{status_event("Estimate", estimate, to, std::move(changes))};
}

Result<Events> decide_estimate_patch(const EntityState& estimate, const json& patch) {
  const std::string status = estimate.str("status");
  if (status == "sent") {
    for (const auto& [key, value] : patch.items()) {
      if (key != "internal_notes") {
        return Error::of(ErrorCode::kImmutableEntity,
                         "a sent estimate only accepts internal_notes changes");
      }
    }
  } else if (status != "draft") {
    return Error::of(ErrorCode::kImmutableEntity, "a " + status + " estimate cannot be changed");
  }
  return update_events("Estimate", estimate, patch);
}

bool invoice_transition_allowed(const std::string& from, const std::string& to) {
  static const TransitionTable t = {
      {"draft", {"sent", "void"}},
      {"sent", {"partial", "paid", "overdue", "void"}},
      {"partial", {"paid", "overdue", "void"}},
      {"overdue", {"partial", "paid", "void"}},
  };
  return allowed(t, from, to);
}

Result<Events> decide_invoice_transition(const EntityState& invoice, const std::string& to,
                                         const std::string& now) {
  static const std::set<std::string> kStatuses = {"draft",   "sent", "partial",
                                                  "overdue", "paid", "void"};
  if (!kStatuses.count(to)) return Error::validation({{{"status"}, "is not an invoice status"}});
  const std::string from = invoice.str("status");
  if (!invoice_transition_allowed(from, to)) return invalid_transition("invoice", from, to);
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
  return Events{status_event("Invoice", invoice, to, std::move(changes))};
}

Result<Events> decide_invoice_patch(const EntityState& invoice, const json& patch) {
  const std::string status = invoice.str("status");
  if (status != "draft") {
    return Error::of(ErrorCode::kImmutableEntity, "a " + status + " invoice cannot be changed");
  }
  return update_events("Invoice", invoice, patch);
}

Result<Events> decide_payment(const EntityState& invoice, const json& payment,
                              const std::string& now) {
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
        {{{"amount_cents"}, "must be > 0 and at most the balance (" + std::to_string(balance) + ")"}});
  }
  const std::int64_t now_paid = paid + amount_cents;
  const std::string to = status_for(now_paid, total, status);
  json changes = {{"paid_cents", now_paid}, {"status", to}};
  if (to == "paid") changes["paid_at"] = now;
  return Events{{kInvoicePaymentRecorded, {{"payment", payment}, {"changes", changes}}}};
}

Result<Events> decide_payment_removal(const EntityState& invoice, const std::string& payment_id,
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

}  // namespace fsm::domain

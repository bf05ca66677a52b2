// /api/v1/estimates, invoices and payments. Totals are always computed here
// (domain/money), never taken from the body. An invoice's number is decided
// inside its creating command, under a per-account lock, by appending to the
// account's numbering stream: unique and gap-free, never by counting rows.
#include <cstdio>

#include "common/time.h"
#include "common/uuid.h"
#include "domain/documents.h"
#include "domain/money.h"
#include "events/pg_event_store.h"
#include "http/resources.h"

namespace fsm::http {
namespace {

using domain::FieldSpec;
using domain::FieldType;
using nlohmann::json;

constexpr std::size_t kMaxLineItems = 200;

// A payment as the API answers it.
constexpr const char* kPaymentSelect =
    "SELECT json_build_object('id', p.id, 'account_id', p.account_id, 'invoice_id', p.invoice_id,"
    " 'amount_cents', p.amount_cents, 'method', p.method, 'received_at',"
    " to_char(p.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    " 'notes', p.notes, 'created_at',"
    " to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))::text AS j";
constexpr const char* kPaymentFrom = " FROM payments p";

FieldSpec text(const char* name, bool required, std::size_t max) {
  return FieldSpec{name, FieldType::kText, required, !required, max};
}
FieldSpec ref(const char* name, bool required) {
  return FieldSpec{name, FieldType::kUuid, required, !required};
}
FieldSpec when(const char* name) { return FieldSpec{name, FieldType::kTimestamp, false, true}; }
FieldSpec bps() {
  return FieldSpec{"tax_rate_bps", FieldType::kInt, false, false, 0, {}, 0,
                   domain::money::kMaxTaxRateBps};
}

const std::vector<FieldSpec>& line_item_fields() {
  static const std::vector<FieldSpec> f = {
      text("description", true, 500),
      {"quantity", FieldType::kQuantity, true, false},
      {"unit_price_cents", FieldType::kInt, true, false, 0, {}, -domain::money::kMaxCents,
       domain::money::kMaxCents}};
  return f;
}

const std::vector<FieldSpec>& estimate_fields() {
  static const std::vector<FieldSpec> f = {
      ref("client_id", true), ref("job_id", false),          ref("property_id", false), bps(),
      text("notes", false, 5000), text("internal_notes", false, 5000), when("expires_at")};
  return f;
}

const std::vector<FieldSpec>& invoice_fields() {
  static const std::vector<FieldSpec> f = {
      ref("client_id", true), ref("job_id", false),        ref("property_id", false),
      ref("estimate_id", false), bps(),                    text("notes", false, 5000),
      when("due_date")};
  return f;
}

const std::vector<FieldSpec>& payment_fields() {
  static const std::vector<FieldSpec> f = {
      {"amount_cents", FieldType::kInt, true, false, 0, {}, 1, domain::money::kMaxCents},
      {"method", FieldType::kEnum, true, false, 0, {"cash", "check", "card", "transfer", "other"}},
      when("received_at"),
      text("notes", false, 5000)};
  return f;
}

// Patch fields: the document's own, minus what is fixed at creation.
std::vector<FieldSpec> patchable(std::vector<FieldSpec> specs) {
  std::erase_if(specs, [](const FieldSpec& s) {
    return s.name == "client_id" || s.name == "estimate_id";
  });
  for (auto& s : specs) s.required = false;
  return specs;
}

// Validates a body with `line_items` (an array of line objects) beside the
// flat fields; every problem is reported with its path.
Result<json> document_body(const Request& req, const std::vector<FieldSpec>& specs,
                           domain::Mode mode) {
  auto body = domain::parse_json_object(req.body);
  if (!body) return body.error();
  json flat = *body;
  std::optional<json> lines;
  if (flat.contains("line_items")) {
    lines = flat["line_items"];
    flat.erase("line_items");
  }
  std::vector<Issue> issues;
  auto fields = domain::validate_body(flat, specs, mode);
  if (!fields) issues = fields.error().issues;
  if (mode == domain::Mode::kPatch && lines && flat.empty()) issues.clear();  // lines only
  if (!lines && mode == domain::Mode::kCreate) issues.push_back({{"line_items"}, "is required"});
  json out = fields ? *fields : json::object();
  if (lines) {
    if (!lines->is_array() || lines->empty() || lines->size() > kMaxLineItems) {
      issues.push_back({{"line_items"}, "must be an array of 1 to 200 line items"});
    } else {
      json validated = json::array();
      for (std::size_t i = 0; i < lines->size(); ++i) {
        auto line = domain::validate_body((*lines)[i], line_item_fields(), domain::Mode::kCreate);
        if (!line) {
          for (auto issue : line.error().issues) {
            issue.path.insert(issue.path.begin(), {std::string("line_items"),
                                                   static_cast<std::int64_t>(i)});
            issues.push_back(std::move(issue));
          }
        } else {
          validated.push_back(*line);
        }
      }
      out["line_items"] = validated;
    }
  }
  if (!issues.empty()) return Error::validation(std::move(issues));
  return out;
}

// Prices `lines` (validated, or as stored) and writes the totals into `doc`:
// each line gets id (kept if it has one), sort_order and total_cents.
std::optional<Error> price(json& doc, const json& lines, int tax_rate_bps) {
  std::vector<domain::money::Line> money;
  for (const auto& l : lines) {
    const std::string q = l["quantity"].is_string() ? l["quantity"].get<std::string>() : l["quantity"].dump();
    money.push_back({*domain::money::parse_quantity(q), l["unit_price_cents"].get<std::int64_t>()});
  }
  auto totals = domain::money::compute_totals(money, tax_rate_bps);
  if (!totals) return totals.error();
  json priced = json::array();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json l = lines[i];
    if (!l.contains("id")) l["id"] = new_uuid();
    l["quantity"] = domain::money::format_quantity(money[i].quantity_hundredths);
    l["sort_order"] = static_cast<int>(i);
    l["total_cents"] = totals->line_totals[i];
    priced.push_back(std::move(l));
  }
  doc["line_items"] = std::move(priced);
  doc["tax_rate_bps"] = tax_rate_bps;
  doc["subtotal_cents"] = totals->subtotal_cents;
  doc["tax_cents"] = totals->tax_cents;
  doc["total_cents"] = totals->total_cents;
  return std::nullopt;
}

// References a document makes: its client, and job/property when given (a
// property must belong to the client).
std::vector<commands::Reference> document_references(const json& d) {
  std::vector<commands::Reference> refs = {
      {"client", d["client_id"], bad_reference("client_id", "client")}};
  if (d["job_id"].is_string()) {
    refs.push_back({"job", d["job_id"], bad_reference("job_id", "job"), "client_id",
                    d["client_id"].get<std::string>(), std::nullopt,
                    Error::validation({{{"job_id"}, "must be a job of the same client"}})});
  }
  if (d["property_id"].is_string()) {
    refs.push_back({"property", d["property_id"], bad_reference("property_id", "property"),
                    "client_id", d["client_id"].get<std::string>(), std::nullopt,
                    Error::validation({{{"property_id"}, "must be a property of the client"}})});
  }
  return refs;
}

// The account's invoice numbering stream: a fixed id derived from the account.
std::string numbering_stream(const std::string& account_id) {
  const std::string h = sha256_hex("invoice-numbers:" + account_id);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

// Decides the next invoice number inside the creating command's transaction:
// a per-account transaction lock, then an append to the numbering stream at
// the version just read. A rolled-back creation consumes no number.
std::string assign_invoice_number(pqxx::work& tx, const commands::Actor& actor,
                                  const std::string& invoice_id) {
  const std::string stream = numbering_stream(actor.account_id);
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", stream);
  auto cur = tx.exec_params("SELECT version FROM streams WHERE stream_id = $1::uuid", stream);
  const int assigned = cur.empty() ? 0 : cur[0][0].as<int>();
  const int number = assigned + 1;
  if (!commands::append_and_project(
          tx, actor, stream, "invoice_numbers", assigned,
          {{domain::kInvoiceNumberAssigned, {{"invoice_id", invoice_id}, {"number", number}}}})) {
    throw std::logic_error("the invoice numbering stream moved under its lock");
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "INV-%04d", number);
  return buf;
}

json new_invoice(const json& fields) {
  json d = fields;
  d["status"] = "draft";
  d["paid_cents"] = 0;
  d["sent_at"] = nullptr;
  d["paid_at"] = nullptr;
  return d;
}

const ListOptions& estimate_list() {
  static const ListOptions o = {
      {"created_at", "updated_at", "total_cents", "status"},
      {{{"status", FieldType::kEnum, false, false, 0,
         {"draft", "sent", "approved", "declined", "expired"}}},
       {{"client_id", FieldType::kUuid}},
       {{"job_id", FieldType::kUuid}}}};
  return o;
}

const ListOptions& invoice_list() {
  static const ListOptions o = {
      {"created_at", "updated_at", "total_cents", "status", "invoice_number", "due_date"},
      {{{"status", FieldType::kEnum, false, false, 0,
         {"draft", "sent", "partial", "overdue", "paid", "void"}}},
       {{"client_id", FieldType::kUuid}},
       {{"job_id", FieldType::kUuid}},
       {{"estimate_id", FieldType::kUuid}}}};
  return o;
}

int tax_of(const json& fields, const domain::EntityState* state) {
  if (fields.contains("tax_rate_bps") && fields["tax_rate_bps"].is_number_integer()) {
    return fields["tax_rate_bps"].get<int>();
  }
  if (state && state->fields.contains("tax_rate_bps")) return state->fields["tax_rate_bps"];
  return 0;
}

}  // namespace

// ------------------------------------------------------------- estimates

Response Resources::create_estimate(const Request& req) {
  auto who = caller(req, kOffice);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  auto fields = document_body(req, estimate_fields(), domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  json d = *fields;
  if (auto e = price(d, (*fields)["line_items"], tax_of(*fields, nullptr))) {
    return error_response(*e, req.request_id);
  }
  d["status"] = "draft";
  d["sent_at"] = nullptr;
  d["invoice_id"] = nullptr;
  return create_entity(req, std::get<commands::Actor>(who), "estimate", "Estimate", d,
                       document_references(d));
}

Response Resources::patch_document(const Request& req, const std::string& stream_type) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& actor = std::get<Target>(t).actor;
  const bool estimate = stream_type == "estimate";
  auto patch = document_body(req, patchable(estimate ? estimate_fields() : invoice_fields()),
                             domain::Mode::kPatch);
  if (!patch) return error_response(patch.error(), req.request_id);
  auto cmd = std::get<Target>(t).command(stream_type);
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) -> Result<domain::Events> {
    json changes = *patch;
    if (changes.contains("line_items") || changes.contains("tax_rate_bps")) {
      const json& lines =
          changes.contains("line_items") ? changes["line_items"] : s.fields["line_items"];
      if (auto e = price(changes, lines, tax_of(changes, &s))) return *e;
    }
    json merged = s.fields;
    for (const auto& [k, v] : changes.items()) merged[k] = v;
    for (const auto& r : document_references(merged)) {
      if (!changes.contains(r.stream_type + "_id")) continue;  // unchanged references stand
      auto value = projections::share_entity(tx, projections::entity_table(r.stream_type),
                                             actor.account_id, r.id, r.column);
      if (!value) return r.missing;
      if (r.equals && *value != *r.equals) return r.mismatch;
    }
    return estimate ? domain::decide_estimate_patch(s, changes)
                    : domain::decide_invoice_patch(s, changes);
  };
  return run_and_answer(req, actor, cmd, 200);
}

Response Resources::transition_document(const Request& req, const std::string& stream_type) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  auto body = domain::parse_json_object(req.body);
  if (!body) return error_response(body.error(), req.request_id);
  auto fields = domain::validate_body(*body, domain::transition_fields(), domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  const std::string to = (*fields)["status"];
  auto cmd = std::get<Target>(t).command(stream_type);
  cmd.decide = [&](const domain::EntityState& s, pqxx::work&) {
    const std::string at = format_rfc3339(now());
    return stream_type == "estimate" ? domain::decide_estimate_transition(s, to, at)
                                     : domain::decide_invoice_transition(s, to, at);
  };
  return run_and_answer(req, std::get<Target>(t).actor, cmd, 200);
}

// Exactly one invoice per estimate: the conversion runs on the estimate's
// stream, so concurrent conversions queue on its lock; the first creates the
// invoice and records it on the estimate, the others find it recorded.
Response Resources::convert_estimate(const Request& req) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& actor = std::get<Target>(t).actor;
  auto cmd = std::get<Target>(t).command("estimate");
  std::string invoice_id;
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) -> Result<domain::Events> {
    invoice_id = s.str("invoice_id");
    if (!invoice_id.empty()) return domain::Events{};  // converted before: nothing to do
    if (s.str("status") != "approved") {
      return Error::of(ErrorCode::kInvalidTransition, "only an approved estimate converts");
    }
    invoice_id = new_uuid();
    json inv = new_invoice(json::object());
    for (const char* k : {"client_id", "job_id", "property_id", "notes", "tax_rate_bps",
                          "subtotal_cents", "tax_cents", "total_cents"}) {
      inv[k] = s.fields.contains(k) ? s.fields[k] : json();
    }
    inv["account_id"] = actor.account_id;
    inv["estimate_id"] = cmd.stream_id;
    inv["due_date"] = nullptr;
    json lines = json::array();
    for (const auto& l : s.fields["line_items"]) {
      json copy = l;
      copy["estimate_line_item_id"] = l["id"];
      copy["id"] = new_uuid();
      lines.push_back(std::move(copy));
    }
    inv["line_items"] = std::move(lines);
    inv["invoice_number"] = assign_invoice_number(tx, actor, invoice_id);
    if (!commands::append_and_project(tx, actor, invoice_id, "invoice", 0,
                                      {{"InvoiceCreated", inv}})) {
      throw std::logic_error("a fresh invoice id collided");
    }
    return domain::Events{
        {domain::kEstimateConverted,
         {{"invoice_id", invoice_id}, {"changes", {{"invoice_id", invoice_id}}}}}};
  };
  auto outcome = commands::run(pool_, actor, cmd);
  if (!outcome) return error_response(outcome.error(), req.request_id);
  const bool created = !outcome->events.empty();
  const json invoice = json::parse(current_row("invoice", actor, invoice_id));
  return Response::json(created ? 201 : 200, {{"invoice_id", invoice_id},
                                              {"invoice_number", invoice["invoice_number"]},
                                              {"invoice_status", invoice["status"]},
                                              {"created", created}});
}

// -------------------------------------------------------------- invoices

Response Resources::create_invoice(const Request& req) {
  auto who = caller(req, kOffice);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const auto& actor = std::get<commands::Actor>(who);
  auto fields = document_body(req, invoice_fields(), domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  json d = new_invoice(*fields);
  if (auto e = price(d, (*fields)["line_items"], tax_of(*fields, nullptr))) {
    return error_response(*e, req.request_id);
  }
  d["account_id"] = actor.account_id;
  commands::Command cmd;
  cmd.stream_id = new_uuid();
  cmd.stream_type = "invoice";
  cmd.creates = true;
  cmd.references = document_references(d);
  if (d["estimate_id"].is_string()) {
    cmd.references.push_back({"estimate", d["estimate_id"], bad_reference("estimate_id", "estimate")});
  }
  cmd.decide = [&](const domain::EntityState&, pqxx::work& tx) -> Result<domain::Events> {
    json data = d;
    data["invoice_number"] = assign_invoice_number(tx, actor, cmd.stream_id);
    return domain::Events{{"InvoiceCreated", std::move(data)}};
  };
  // An estimate's invoice is unique (index): a second one is a 409.
  return run_and_answer(req, actor, cmd, 201);
}

Response Resources::create_payment(const Request& req) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& actor = std::get<Target>(t).actor;
  auto body = domain::parse_json_object(req.body);
  if (!body) return error_response(body.error(), req.request_id);
  auto fields = domain::validate_body(*body, payment_fields(), domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  const std::string at = format_rfc3339(now());
  json payment = *fields;
  payment["id"] = new_uuid();
  if (payment["received_at"].is_null()) payment["received_at"] = at;
  auto cmd = std::get<Target>(t).command("invoice");
  cmd.decide = [&](const domain::EntityState& s, pqxx::work&) {
    return domain::decide_payment(s, payment, at);
  };
  auto outcome = commands::run(pool_, actor, cmd);
  if (!outcome) return error_response(outcome.error(), req.request_id);
  const json invoice = json::parse(outcome->row);
  const json stored = json::parse(payment_row(actor, payment["id"]));
  return Response::json(201, {{"payment", stored},
                              {"invoice",
                               {{"id", invoice["id"]},
                                {"status", invoice["status"]},
                                {"paid_cents", invoice["paid_cents"]},
                                {"total_cents", invoice["total_cents"]}}}});
}

std::string Resources::payment_row(const commands::Actor& actor, const std::string& id) {
  return pool_.run([&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    auto r = projections::exec_cached(tx,
                                      std::string(kPaymentSelect) + kPaymentFrom +
                                          " WHERE p.id = $1::uuid AND p.account_id = $2::uuid",
                                      {id, actor.account_id});
    return r.empty() ? std::string("null") : std::string(r[0][0].c_str());
  });
}

// A list like the others (page, limit, sort, order), oldest first by default.
// It answers today's payments only: `as_of` is not supported here (read
// /invoices/:id/history for the past).
Response Resources::list_payments(const Request& req) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  static const ListOptions kPaymentList = {
      {"received_at", "created_at", "amount_cents"}, {}, "received_at", false};
  auto q = parse_list_query(req, kPaymentList);
  if (!q) return error_response(q.error(), req.request_id);
  if (current_row("invoice", actor, id) == "null") return not_found(req);
  // The sort column is one of kPaymentList's, never the caller's text.
  const std::string order = "x." + q->sort + (q->descending ? " DESC" : " ASC") + ", x.id" +
                            (q->descending ? " DESC" : " ASC");
  auto rows = pool_.run([&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);  // one statement: the page and its total agree
    return projections::exec_cached(
        tx,
        "SELECT coalesce((SELECT json_agg(y.j::json ORDER BY y.n) FROM (SELECT x.j,"
        " row_number() OVER (ORDER BY " +
            order + ") AS n FROM (" + std::string(kPaymentSelect) +
            ", p.received_at, p.created_at, p.amount_cents, p.id" + kPaymentFrom +
            " WHERE p.invoice_id = $1::uuid AND p.account_id = $2::uuid) x"
            " ORDER BY " +
            order +
            " LIMIT $3::int OFFSET $4::int) y), '[]')::text,"
            " (SELECT count(*) FROM payments p WHERE p.invoice_id = $1::uuid"
            " AND p.account_id = $2::uuid)",
        {id, actor.account_id, std::to_string(q->limit), std::to_string(q->offset)});
  });
  return Response::json(200, {{"data", json::parse(rows[0][0].c_str())},
                              {"pagination",
                               {{"page", q->offset / q->limit + 1},
                                {"limit", q->limit},
                                {"total", rows[0][1].as<long long>()}}}});
}

Response Resources::delete_payment(const Request& req) {
  auto who = caller(req, kOwner);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const auto& actor = std::get<commands::Actor>(who);
  const std::string payment_id = req.params.at("id");
  if (!is_uuid(payment_id)) return not_found(req);
  const std::string found = payment_row(actor, payment_id);
  if (found == "null") return not_found(req);
  const json payment = json::parse(found);
  commands::Command cmd;
  cmd.stream_id = payment["invoice_id"];
  cmd.stream_type = "invoice";
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) -> Result<domain::Events> {
    // Under the invoice's lock: is the payment still there?
    auto still = tx.exec_params("SELECT amount_cents FROM payments WHERE id = $1::uuid", payment_id);
    if (still.empty()) return Error::of(ErrorCode::kNotFound, "not found");
    const auto due = s.str("due_date");
    const auto due_at = due.empty() ? std::nullopt : parse_rfc3339(due);
    return domain::decide_payment_removal(s, payment_id, still[0][0].as<std::int64_t>(),
                                          due_at && *due_at < now());
  };
  auto outcome = commands::run(pool_, actor, cmd);
  if (!outcome) return error_response(outcome.error(), req.request_id);
  return Response::no_content();
}

void Resources::register_money_routes(Router& router) {
  add(router, Method::kGet, "/api/v1/estimates",
      [this](const Request& r) { return list(r, "estimate", kOffice, estimate_list()); });
  add_post(router, "/api/v1/estimates", [this](const Request& r) { return create_estimate(r); });
  add(router, Method::kGet, "/api/v1/estimates/:id",
      [this](const Request& r) { return get(r, "estimate", kAll); });
  add(router, Method::kPatch, "/api/v1/estimates/:id",
      [this](const Request& r) { return patch_document(r, "estimate"); });
  add_post(router, "/api/v1/estimates/:id/transition",
           [this](const Request& r) { return transition_document(r, "estimate"); });
  add_post(router, "/api/v1/estimates/:id/convert",
           [this](const Request& r) { return convert_estimate(r); });

  add(router, Method::kGet, "/api/v1/invoices",
      [this](const Request& r) { return list(r, "invoice", kOffice, invoice_list()); });
  add_post(router, "/api/v1/invoices", [this](const Request& r) { return create_invoice(r); });
  add(router, Method::kGet, "/api/v1/invoices/:id",
      [this](const Request& r) { return get(r, "invoice", kAll); });
  add(router, Method::kPatch, "/api/v1/invoices/:id",
      [this](const Request& r) { return patch_document(r, "invoice"); });
  add_post(router, "/api/v1/invoices/:id/transition",
           [this](const Request& r) { return transition_document(r, "invoice"); });
  add(router, Method::kGet, "/api/v1/invoices/:id/payments",
      [this](const Request& r) { return list_payments(r); });
  add_post(router, "/api/v1/invoices/:id/payments",
           [this](const Request& r) { return create_payment(r); });
  add(router, Method::kDelete, "/api/v1/payments/:id",
      [this](const Request& r) { return delete_payment(r); });
}

}  // namespace fsm::http

// /api/v1/estimates, invoices and payments (domain/estimate.h,
// domain/invoice.h). Totals are always computed by the domain, never taken
// from the body.
#include "common/uuid.h"
#include "domain/document.h"
#include "domain/estimate.h"
#include "domain/invoice.h"
#include "http/api.h"
#include "projections/tables.h"

namespace fsm::http {
namespace {

namespace cmd = commands;
using domain::FieldType;
using domain::Mode;
using nlohmann::json;

// A payment as the API answers it (the payments table's one definition).
const std::string& payment_select() {
  static const std::string sql =
      "SELECT " + projections::row_json_sql(projections::payments_table(), "p") + " AS j";
  return sql;
}
constexpr const char* kPaymentFrom = " FROM payments p";

Result<json> document_body(const Call& c, const std::vector<domain::FieldSpec>& specs, Mode mode) {
  FSM_TRY(auto body, domain::parse_json_object(c.req.body));
  return domain::document::validate(body, specs, mode);
}

// The account's payment `id` as the API answers it ("null" if none).
std::string payment_row(const Call& c, const std::string& id) {
  return c.pool.run([&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    auto r = projections::exec_cached(
        tx, payment_select() + kPaymentFrom + " WHERE p.id = $1::uuid AND p.account_id = $2::uuid",
        {id, c.actor.account_id});
    return r.empty() ? std::string("null") : std::string(r[0][0].c_str());
  });
}

// A list like the others (page, limit, sort, order), oldest first by default.
// It answers today's payments only: `as_of` is not supported here (read
// /invoices/:id/history for the past).
Result<Response> list_payments(Api& api, const Call& c) {
  static const ListOptions kPaymentList = {
      {"received_at", "created_at", "amount_cents"}, {}, "received_at", false};
  FSM_TRY(auto id, c.id());
  FSM_TRY(auto q, parse_list_query(c.req, kPaymentList));
  if (api.current_row(c, domain::invoice::kKind.stream_type, id) == "null") return not_found();
  // The sort column is one of kPaymentList's, never the caller's text.
  const std::string order = "x." + q.sort + (q.descending ? " DESC" : " ASC") + ", x.id" +
                            (q.descending ? " DESC" : " ASC");
  auto rows = c.pool.run([&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);  // one statement: the page and its total agree
    return projections::exec_cached(
        tx,
        "SELECT coalesce((SELECT json_agg(y.j::json ORDER BY y.n) FROM (SELECT x.j,"
        " row_number() OVER (ORDER BY " +
            order + ") AS n FROM (" + payment_select() +
            ", p.received_at, p.created_at, p.amount_cents, p.id" + kPaymentFrom +
            " WHERE p.invoice_id = $1::uuid AND p.account_id = $2::uuid) x"
            " ORDER BY " +
            order +
            " LIMIT $3::int OFFSET $4::int) y), '[]')::text,"
            " (SELECT count(*) FROM payments p WHERE p.invoice_id = $1::uuid"
            " AND p.account_id = $2::uuid)",
        {id, c.actor.account_id, std::to_string(q.limit), std::to_string(q.offset)});
  });
  return Response::json(200, {{"data", json::parse(rows[0][0].c_str())},
                              {"pagination",
                               {{"page", q.offset / q.limit + 1},
                                {"limit", q.limit},
                                {"total", rows[0][1].as<long long>()}}}});
}

Result<Response> record_payment(const Call& c) {
  FSM_TRY(auto target, c.target());
  FSM_TRY(auto payment, c.body(domain::invoice::payment_fields(), Mode::kCreate));
  const std::string payment_id = new_uuid();
  FSM_TRY(auto outcome, cmd::invoice::record_payment(c.ctx(), target, payment, payment_id));
  const json invoice = json::parse(outcome.row);
  return Response::json(201, {{"payment", json::parse(payment_row(c, payment_id))},
                              {"invoice",
                               {{"id", invoice["id"]},
                                {"status", invoice["status"]},
                                {"paid_cents", invoice["paid_cents"]},
                                {"total_cents", invoice["total_cents"]}}}});
}

}  // namespace

void estimate_routes(Api& api) {
  namespace rules = domain::estimate;
  static const ListOptions kList = {{"created_at", "updated_at", "total_cents", "status"},
                                    {{domain::enum_field("status", rules::statuses())},
                                     {{"client_id", FieldType::kUuid}},
                                     {{"job_id", FieldType::kUuid}}}};
  const std::string type = rules::kKind.stream_type;
  api.get("/api/v1/estimates", kOffice,
          [&api, type](const Call& c) { return api.list(c, type, kList); });
  api.post("/api/v1/estimates", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto fields, document_body(c, rules::create_fields(), Mode::kCreate));
    return api.answer(c, cmd::estimate::create(c.ctx(), fields), type, 201);
  });
  api.get("/api/v1/estimates/:id", kAll, [&api, type](const Call& c) { return api.read(c, type); });
  api.patch("/api/v1/estimates/:id", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto patch, document_body(c, rules::patch_fields(), Mode::kPatch));
    return api.answer(c, cmd::estimate::patch(c.ctx(), target, patch), type, 200);
  });
  api.post(
      "/api/v1/estimates/:id/transition", kOffice, [&api, type](const Call& c) -> Result<Response> {
        FSM_TRY(auto target, c.target());
        FSM_TRY(auto body, c.body(domain::transition_fields(), Mode::kCreate));
        return api.answer(c, cmd::estimate::transition(c.ctx(), target, body["status"]), type, 200);
      });
  api.post("/api/v1/estimates/:id/convert", kOffice, [&api](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto converted, cmd::estimate::convert(c.ctx(), target));
    const json invoice =
        json::parse(api.current_row(c, domain::invoice::kKind.stream_type, converted.invoice_id));
    return Response::json(converted.created ? 201 : 200,
                          {{"invoice_id", converted.invoice_id},
                           {"invoice_number", invoice["invoice_number"]},
                           {"invoice_status", invoice["status"]},
                           {"created", converted.created}});
  });
}

void invoice_routes(Api& api) {
  namespace rules = domain::invoice;
  static const ListOptions kList = {
      {"created_at", "updated_at", "total_cents", "status", "invoice_number", "due_date"},
      {{domain::enum_field("status", rules::statuses())},
       {{"client_id", FieldType::kUuid}},
       {{"job_id", FieldType::kUuid}},
       {{"estimate_id", FieldType::kUuid}}}};
  const std::string type = rules::kKind.stream_type;
  api.get("/api/v1/invoices", kOffice,
          [&api, type](const Call& c) { return api.list(c, type, kList); });
  api.post("/api/v1/invoices", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto fields, document_body(c, rules::create_fields(), Mode::kCreate));
    return api.answer(c, cmd::invoice::create(c.ctx(), fields), type, 201);
  });
  api.get("/api/v1/invoices/:id", kAll, [&api, type](const Call& c) { return api.read(c, type); });
  api.patch("/api/v1/invoices/:id", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto patch, document_body(c, rules::patch_fields(), Mode::kPatch));
    return api.answer(c, cmd::invoice::patch(c.ctx(), target, patch), type, 200);
  });
  api.post(
      "/api/v1/invoices/:id/transition", kOffice, [&api, type](const Call& c) -> Result<Response> {
        FSM_TRY(auto target, c.target());
        FSM_TRY(auto body, c.body(domain::transition_fields(), Mode::kCreate));
        return api.answer(c, cmd::invoice::transition(c.ctx(), target, body["status"]), type, 200);
      });
  api.get("/api/v1/invoices/:id/payments", kOffice,
          [&api](const Call& c) { return list_payments(api, c); });
  api.post("/api/v1/invoices/:id/payments", kOffice, record_payment);
  api.del("/api/v1/payments/:id", kOwner, [](const Call& c) -> Result<Response> {
    FSM_TRY(auto payment_id, c.id());
    FSM_TRY(auto outcome, cmd::invoice::remove_payment(c.ctx(), payment_id));
    (void)outcome;
    return Response::no_content();
  });
}

}  // namespace fsm::http

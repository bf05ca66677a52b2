// The auditor's routes: the audit log (a projection, one row per event) and
// an entity's history (its events, oldest first, straight from the log).
#include "common/time.h"
#include "common/uuid.h"
#include "events/pg_event_store.h"
#include "http/resources.h"

namespace fsm::http {
namespace {

using domain::FieldSpec;
using domain::FieldType;
using nlohmann::json;

const projections::EntityTable& audit_table() {
  static const projections::EntityTable t = {
      "audit",
      "audit_log",
      {"account_id", "entity_type", "entity_id", "action", "actor_id", "old_value", "new_value",
       "event_type", "event_position", "trace_id", "created_at"},
      {"created_at"}};
  return t;
}

const ListOptions& audit_list() {
  static const ListOptions o = {
      {"created_at", "event_position"},
      {{{"entity_type", FieldType::kText, false, false, 50}},
       {{"entity_id", FieldType::kUuid}},
       {{"action", FieldType::kEnum, false, false, 0, {"insert", "update", "delete"}}},
       {{"from", FieldType::kTimestamp}, "created_at", ">="},
       {{"to", FieldType::kTimestamp}, "created_at", "<"}},
      "created_at",
      true};
  return o;
}

// An event as /events and /history answer it.
json event_json(const events::RecordedEvent& e) {
  return {{"position", e.position},   {"stream_id", e.stream_id}, {"stream_type", e.stream_type},
          {"version", e.version},     {"type", e.type},           {"data", e.data},
          {"metadata", e.metadata},   {"recorded_at", format_rfc3339(e.recorded_at)}};
}

}  // namespace

Response Resources::history(const Request& req, const std::string& stream_type) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto events = pool_.run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    return events::PgEventStore::read_stream_in(tx, id, std::nullopt);
  });
  // Another account's stream, or one of another type, does not exist here.
  // A deleted entity keeps its history.
  if (events.empty() || events.front().stream_type != stream_type ||
      events.front().metadata.value("account_id", json()) != json(actor.account_id)) {
    return not_found(req);
  }
  json data = json::array();
  for (const auto& e : events) data.push_back(event_json(e));
  return Response::json(200, {{"data", std::move(data)}, {"next_after", events.back().position}});
}

void Resources::register_audit_routes(Router& router) {
  router.add(Method::kGet, "/api/v1/audit-log", [this](const Request& r) {
    auto who = caller(r, kOffice);
    if (auto* res = std::get_if<Response>(&who)) return *res;
    return list_table(r, std::get<commands::Actor>(who), audit_table(), audit_list());
  });
  for (const auto& [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"jobs", "job"},
           {"visits", "visit"},
           {"clients", "client"},
           {"properties", "property"},
           {"estimates", "estimate"},
           {"invoices", "invoice"},
           {"users", "user"}}) {
    router.add(Method::kGet, "/api/v1/" + path + "/:id/history",
               [this, type = type](const Request& r) { return history(r, type); });
  }
}

}  // namespace fsm::http

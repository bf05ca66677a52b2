// The auditor's routes: the audit log (a projection, one row per event) and
// an entity's history (its events, oldest first, straight from the log).
#include <algorithm>
#include <limits>

#include "common/uuid.h"
#include "domain/entity.h"
#include "events/pg_event_store.h"
#include "http/api.h"

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
      {{{"entity_type", FieldType::kEnum, false, false, 0, domain::catalog_stream_types()}},
       {{"entity_id", FieldType::kUuid}},
       {{"action", FieldType::kEnum, false, false, 0, {"insert", "update", "delete"}}},
       {{"from", FieldType::kTimestamp}, "created_at", ">="},
       {{"to", FieldType::kTimestamp}, "created_at", "<"}},
      "created_at",
      true};
  return o;
}


// The log in an order that never skips: (transaction id, position), and only
// transactions older than every one still running, exactly as replays read
// it. Positions alone would not do: a transaction may commit a lower position
// after a higher one is visible. The cursor is still a position, the last one
// the caller received; its transaction id is looked up to resume after it.
Result<Response> list_events(const Call& c) {
  const Request& req = c.req;
  const auto& actor = c.actor;
  std::vector<Issue> issues;
  long long after = 0, limit = 100;
  std::vector<std::string> params = {actor.account_id};
  std::string where;
  for (const auto& [key, value] : req.query) {
    if (key == "after") {
      auto v = parse_integer(value, 0, std::numeric_limits<long long>::max());
      if (!v) issues.push_back({{"after"}, "must be a position (an integer >= 0)"});
      else after = *v;
    } else if (key == "limit") {
      auto v = parse_integer(value, 1, 1000);
      if (!v) issues.push_back({{"limit"}, "must be an integer from 1 to 1000"});
      else limit = *v;
    } else if (key == "stream_id" || key == "type" || key == "from" || key == "to") {
      static const FieldSpec kType{
          "type", FieldType::kEnum, false, false, 0, domain::catalog_event_types()};
      const FieldSpec spec = key == "stream_id" ? FieldSpec{key, FieldType::kUuid}
                             : key == "type"    ? kType
                                                : FieldSpec{key, FieldType::kTimestamp};
      auto checked = domain::validate_body({{key, value}}, {spec}, domain::Mode::kPatch);
      if (!checked) {
        for (const auto& i : checked.error().issues) issues.push_back(i);
        continue;
      }
      params.push_back((*checked)[key].get<std::string>());
      const std::string p = projections::placeholder(params.size());
      if (key == "stream_id") where += " AND e.stream_id = " + p + "::uuid";
      if (key == "type") where += " AND e.event_type = " + p;
      if (key == "from") where += " AND e.recorded_at >= " + p + "::timestamptz";
      if (key == "to") where += " AND e.recorded_at < " + p + "::timestamptz";
    } else {
      issues.push_back({{key}, "unknown query parameter"});
    }
  }
  if (!issues.empty()) return Error::validation(std::move(issues), "invalid query parameters");
  params.push_back(std::to_string(after));
  const std::string cursor = projections::placeholder(params.size());
  auto rows = c.pool.run([&](pqxx::connection& conn) -> std::optional<pqxx::result> {
    pqxx::nontransaction tx(conn);
    // Its own two parameters: the filters' placeholders are not in this one.
    if (after > 0 && projections::exec_cached(tx,
                                              "SELECT 1 FROM events WHERE global_position ="
                                              " $2::bigint AND account_id = $1::uuid",
                                              {params[0], params.back()})
                         .empty()) {
      return std::nullopt;
    }
    return projections::exec_cached(
        tx,
        "SELECT json_build_object('position', e.global_position, 'stream_id', e.stream_id,"
        " 'stream_type', e.stream_type, 'version', e.stream_version, 'type', e.event_type,"
        " 'data', e.data, 'metadata', e.metadata, 'recorded_at',"
        " to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))::text,"
        " e.global_position FROM events e WHERE e.account_id = $1::uuid AND (" + cursor +
            "::bigint = 0 OR (e.tx_id, e.global_position) > ((SELECT c.tx_id FROM events c"
            " WHERE c.global_position = " + cursor + "::bigint), " + cursor + "::bigint))"
            " AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())" + where +
            " ORDER BY e.tx_id, e.global_position LIMIT " + std::to_string(limit),
        params);
  });
  if (!rows) return Error::validation({{{"after"}, "must be a position this log gave you (next_after)"}});
  std::string data = "[";
  long long next = after;
  for (const auto& row : *rows) {
    if (data.size() > 1) data += ',';
    data += row[0].c_str();
    next = row[1].as<long long>();
  }
  data += "]";
  return Response::json(200, {{"data", json::parse(data)}, {"next_after", next}});
}

// Pages like /events: `after` (the last position received, 0 for the start)
// and `limit` (1..1000, default 100); `next_after` resumes.
Result<Response> history(const Call& c, const std::string& stream_type) {
  const Request& req = c.req;
  const auto& actor = c.actor;
  FSM_TRY(const auto id, c.id());
  std::vector<Issue> issues;
  long long after = 0, limit = 100;
  for (const auto& [key, value] : req.query) {
    if (key == "after") {
      auto v = parse_integer(value, 0, std::numeric_limits<long long>::max());
      if (!v)
        issues.push_back({{"after"}, "must be a position (an integer >= 0)"});
      else
        after = *v;
    } else if (key == "limit") {
      auto v = parse_integer(value, 1, 1000);
      if (!v)
        issues.push_back({{"limit"}, "must be an integer from 1 to 1000"});
      else
        limit = *v;
    } else {
      issues.push_back({{key}, "unknown query parameter"});
    }
  }
  if (!issues.empty()) return Error::validation(std::move(issues), "invalid query parameters");
  auto events = c.pool.run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    return events::PgEventStore::read_stream_in(tx, id, std::nullopt);
  });
  // Another account's stream, or one of another type, does not exist here.
  // A deleted entity keeps its history.
  if (events.empty() || events.front().stream_type != stream_type ||
      events.front().metadata.value("account_id", json()) != json(actor.account_id)) {
    return not_found();
  }
  // A stream's positions grow with its versions: the page is the events past
  // `after`, which must be one of this stream's positions (or 0).
  auto from = events.begin();
  if (after > 0) {
    from = std::find_if(events.begin(), events.end(),
                        [after](const auto& e) { return e.position == after; });
    if (from == events.end()) {
      return Error::validation({{{"after"}, "must be a position this history gave you (next_after)"}});
    }
    ++from;
  }
  json data = json::array();
  long long next = after;
  for (auto e = from; e != events.end() && static_cast<long long>(data.size()) < limit; ++e) {
    data.push_back(e->to_json());
    next = e->position;
  }
  return Response::json(200, {{"data", std::move(data)}, {"next_after", next}});
}

}  // namespace

void audit_routes(Api& api) {
  api.get("/api/v1/events", kOffice, list_events);
  api.get("/api/v1/audit-log", kOffice, [&api](const Call& c) {
    return api.list_table(c, c.req, audit_table(), audit_list());
  });
  for (const auto& [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"jobs", "job"},
           {"visits", "visit"},
           {"clients", "client"},
           {"properties", "property"},
           {"estimates", "estimate"},
           {"invoices", "invoice"},
           {"users", "user"}}) {
    api.get("/api/v1/" + path + "/:id/history", kOffice,
            [type = type](const Call& c) { return history(c, type); });
  }
}

}  // namespace fsm::http

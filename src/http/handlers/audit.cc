// The auditor's routes: the audit log (a projection, one row per event) and
// an entity's history (its events, oldest first, straight from the log).
#include <algorithm>
#include <limits>

#include "common/time.h"
#include "domain/entity.h"
#include "events/pg_event_store.h"
#include "http/api.h"
#include "projections/tables.h"

namespace fsm::http {
namespace {

using domain::FieldSpec;
using domain::FieldType;
using nlohmann::json;

const ListOptions& audit_list() {
  static const ListOptions o = {
      {"created_at", "event_position"},
      {{{"entity_type", FieldType::kEnum, false, false, 0, domain::catalog_stream_types()}},
       {{"entity_id", FieldType::kUuid}},
       {{"action", FieldType::kEnum, false, false, 0, projections::audit_actions()}},
       {{"from", FieldType::kTimestamp}, "created_at", ">="},
       {{"to", FieldType::kTimestamp}, "created_at", "<"}},
      "created_at",
      true};
  return o;
}

// `after` (a position, 0 for the start) and `limit` (1..1000), the paging
// of /events and /history. Whether `key` was one of them.
bool cursor_parameter(const std::string& key, const std::string& value, long long& after,
                      long long& limit, std::vector<Issue>& issues) {
  if (key == "after") {
    auto v = parse_integer(value, 0, std::numeric_limits<long long>::max());
    if (!v) issues.push_back({{"after"}, "must be a position (an integer >= 0)"});
    else after = *v;
    return true;
  }
  if (key != "limit") return false;
  auto v = parse_integer(value, 1, 1000);
  if (!v) issues.push_back({{"limit"}, "must be an integer from 1 to 1000"});
  else limit = *v;
  return true;
}

// The log in the order that never skips (PgEventStore::read_all_in, as every
// reader of the log in order reads it), filtered. The cursor is a position,
// the last one the caller received: its event's checkpoint resumes the read.
Result<Response> list_events(const Call& c) {
  const Request& req = c.req;
  const auto& actor = c.actor;
  std::vector<Issue> issues;
  long long after = 0, limit = 100;
  events::EventFilter filter;
  filter.account_id = actor.account_id;
  for (const auto& [key, value] : req.query) {
    if (cursor_parameter(key, value, after, limit, issues)) {
      continue;
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
      const std::string v = (*checked)[key].get<std::string>();
      if (key == "stream_id") filter.stream_id = v;
      if (key == "type") filter.event_type = v;
      // Validated: an instant at millisecond precision.
      if (key == "from") filter.recorded_from = parse_rfc3339(v);
      if (key == "to") filter.recorded_before = parse_rfc3339(v);
    } else {
      issues.push_back({{key}, "unknown query parameter"});
    }
  }
  if (!issues.empty()) return Error::validation(std::move(issues), "invalid query parameters");
  using Store = events::PgEventStore;
  auto page = c.pool.run([&](pqxx::connection& conn) -> std::optional<events::ReadAllBatch> {
    pqxx::nontransaction tx(conn);
    events::Checkpoint from;
    if (after > 0) {
      // Another account's position is no cursor here.
      auto at = Store::checkpoint_at(tx, after, actor.account_id);
      if (!at) return std::nullopt;
      from = *at;
    }
    return Store::read_all_in(tx, from, static_cast<int>(limit), Store::Horizon::kFinished, filter);
  });
  if (!page) {
    return Error::validation({{{"after"}, "must be a position this log gave you (next_after)"}});
  }
  json data = json::array();
  for (const auto& e : page->events) data.push_back(e.to_json());
  const long long next = page->events.empty() ? after : page->events.back().position;
  return Response::json(200, {{"data", std::move(data)}, {"next_after", next}});
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
    if (cursor_parameter(key, value, after, limit, issues)) {
      continue;
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
      return Error::validation(
          {{{"after"}, "must be a position this history gave you (next_after)"}});
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
    return api.list_table(c, c.req, projections::audit_log_table(), audit_list());
  });
  // Every entity with a read table has a history under its table's name
  // (/jobs/:id/history), but the account, which has no route of its own.
  for (const auto& t : projections::entity_tables()) {
    if (t.stream_type == "account") continue;
    api.get("/api/v1/" + t.table + "/:id/history", kOffice,
            [type = t.stream_type](const Call& c) { return history(c, type); });
  }
}

}  // namespace fsm::http

#include "events/pg_event_store.h"

#include <iterator>
#include <limits>
#include <stdexcept>
#include <utility>

#include "events/event_columns.h"

namespace fsm::events {
namespace {

const EventColumns kEvent = EventColumns::all();
// What an append reads back: the rest of each RecordedEvent is in the request.
const EventColumns kAssigned = EventColumns::assigned();
// Where an event is in the log's order.
const EventColumns kPositionAndTx(EventColumns::kPosition | EventColumns::kTxId);

// The events to append travel as one jsonb array parameter (libpqxx 6.4 has no
// array parameters); `ord` gives each its place in the batch.
constexpr const char* kInputCte =
    "input AS ("
    " SELECT (e->>'event_id')::uuid AS event_id, e->>'type' AS event_type,"
    "  (e->>'schema_version')::int AS schema_version, e->'data' AS data, ord::int AS ord"
    " FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS t(e, ord))";

// The version check and the stream lock are one statement with the insert: the
// conditional UPDATE waits for any concurrent appender's row lock, re-checks
// `version = expected` against the committed row, and the events are inserted
// only if it matched (the CROSS JOIN yields no rows otherwise). The unique
// (stream_id, stream_version) index is the backstop.
std::string append_existing_sql() {
  return std::string("WITH ") + kInputCte +
         ", bumped AS ("
         " UPDATE streams SET version = $3::int + $5::int"
         " WHERE stream_id = $1::uuid AND version = $3::int"
         " RETURNING version) "
         "INSERT INTO events (event_id, stream_id, stream_type, stream_version, event_type,"
         " schema_version, data, metadata, account_id) "
         "SELECT i.event_id, $1::uuid, $2::text, $3::int + i.ord, i.event_type, i.schema_version, "
         "i.data,"
         " $6::jsonb, NULLIF($7::text, '')::uuid FROM input i CROSS JOIN bumped ORDER BY i.ord "
         "RETURNING " +
         kAssigned.select_list();
}

// A new stream: inserting its row claims it. When another transaction creates
// the same stream concurrently, the insert waits for it and then yields no row,
// which is reported as a ConcurrencyConflict (never dropped silently).
std::string new_stream_sql(const std::string& gate, const std::string& returning) {
  return std::string(kInputCte) +
         ", created AS ("
         " INSERT INTO streams (stream_id, stream_type, version)"
         " SELECT $1::uuid, $2::text, $3::int + $5::int WHERE " + gate +
         " ON CONFLICT (stream_id) DO NOTHING RETURNING version), "
         "appended AS ("
         "INSERT INTO events (event_id, stream_id, stream_type, stream_version, event_type,"
         " schema_version, data, metadata, account_id) "
         "SELECT i.event_id, $1::uuid, $2::text, $3::int + i.ord, i.event_type, i.schema_version, i.data,"
         " $6::jsonb, NULLIF($7::text, '')::uuid FROM input i CROSS JOIN created ORDER BY i.ord "
         "RETURNING " + returning + ")";
}

std::string append_new_sql() {
  return "WITH " + new_stream_sql("true", kAssigned.select_list()) + " SELECT * FROM appended";
}

std::vector<RecordedEvent> to_recorded(const pqxx::result& rows) {
  std::vector<RecordedEvent> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(kEvent.decode(r));
  return out;
}

std::string events_param(const std::vector<NewEvent>& events) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& e : events) {
    arr.push_back({{"event_id", e.event_id},
                   {"type", e.type},
                   {"schema_version", e.schema_version},
                   {"data", e.data}});
  }
  return arr.dump();
}

// Why an append wrote nothing, as far as the events table explains it:
// - every event_id is already stored, consecutively, in this stream: a retried
//   append, whose original result is reported;
// - an event_id is stored elsewhere, or the stream is not at the expected
//   version: a ConcurrencyConflict.
// nullopt: neither, so the cause lies outside the log (e.g. a read table's
// unique index, written in the same transaction).
std::optional<AppendOutcome> resolve_no_write(pqxx::transaction_base& tx, const AppendRequest& req,
                                              const std::string& events_json) {
  const auto stored = to_recorded(tx.exec_prepared("fsm_events_by_ids", events_json));
  if (stored.size() == req.events.size()) {
    bool same = true;
    for (std::size_t i = 0; i < stored.size(); ++i) {
      same = same && stored[i].stream_id == req.stream_id &&
             stored[i].event_id == req.events[i].event_id &&
             stored[i].version == stored.front().version + static_cast<int>(i);
    }
    if (same) {
      AppendResult result;
      result.deduplicated = true;
      result.new_version = stored.back().version;
      result.events = stored;
      return result;
    }
  }
  const auto cur = tx.exec_prepared("fsm_stream_version", req.stream_id);
  const int actual = cur.empty() ? 0 : cur[0][0].as<int>();
  if (stored.empty() && actual == req.expected_version) return std::nullopt;
  return ConcurrencyConflict{req.stream_id, req.expected_version, actual};
}

// The conditions of `filter` that are set, as bits (kReadConditions order),
// with their values appended to `params`.
unsigned filter_conditions(const EventFilter& f, std::vector<std::string>& params) {
  unsigned bits = 0;
  auto add = [&](unsigned bit, std::string value) {
    bits |= bit;
    params.push_back(std::move(value));
  };
  if (!f.account_id.empty()) add(1u << 0, f.account_id);
  if (!f.stream_id.empty()) add(1u << 1, f.stream_id);
  if (!f.event_type.empty()) add(1u << 2, f.event_type);
  if (f.recorded_from) add(1u << 3, std::to_string(to_unix_micros(*f.recorded_from)));
  if (f.recorded_before) add(1u << 4, std::to_string(to_unix_micros(*f.recorded_before)));
  return bits;
}

// The SQL of each filter condition, by bit; `$` stands for its parameter.
// Instants travel as microseconds since the epoch: exact.
constexpr const char* kReadConditions[] = {
    " AND events.account_id = $::uuid",
    " AND events.stream_id = $::uuid",
    " AND events.event_type = $::text",
    " AND events.recorded_at >= 'epoch'::timestamptz + $::bigint * interval '1 microsecond'",
    " AND events.recorded_at < 'epoch'::timestamptz + $::bigint * interval '1 microsecond'",
};
constexpr unsigned kConditionCount = std::size(kReadConditions);

// The read of the log in order, one prepared statement (name, SQL) per
// horizon and combination of filter conditions, built once.
//
// kFinished reads only transactions older than every running one: their
// events are all visible (or rolled back) and no later commit can sort before
// them. kVisible reads everything the transaction's snapshot sees, in the
// same order: for a reader whose snapshot is fixed (verify) or that has
// excluded every writer.
const std::pair<std::string, std::string>& read_all_statement(PgEventStore::Horizon horizon,
                                                              unsigned conditions) {
  using Statements = std::vector<std::pair<std::string, std::string>>;
  static const Statements all = [] {
    Statements out;
    for (const bool finished : {true, false}) {
      for (unsigned bits = 0; bits < (1u << kConditionCount); ++bits) {
        std::string name = finished ? "fsm_read_all" : "fsm_read_visible";
        // Appended piecewise: `"..." + std::string` trips GCC 12's -Wrestrict
        // false positive at -O3.
        std::string sql = "SELECT ";
        sql += kEvent.select_list();
        sql +=
            " FROM events WHERE (events.tx_id, events.global_position)"
            " > ($1::text::xid8, $2::bigint)";
        if (finished) sql += " AND events.tx_id < pg_snapshot_xmin(pg_current_snapshot())";
        std::size_t param = 3;
        for (unsigned i = 0; i < kConditionCount; ++i) {
          if (!(bits & (1u << i))) continue;
          std::string condition = kReadConditions[i];
          condition.replace(condition.find('$') + 1, 0, std::to_string(++param));
          sql += condition;
        }
        if (bits) {
          name += '_';
          name += std::to_string(bits);
        }
        sql += " ORDER BY events.tx_id, events.global_position LIMIT $3::int";
        out.emplace_back(std::move(name), std::move(sql));
      }
    }
    return out;
  }();
  const std::size_t first = horizon == PgEventStore::Horizon::kFinished ? 0 : 1u << kConditionCount;
  return all[first + conditions];
}

}  // namespace

PgEventStore::PgEventStore(PgPool& pool) : pool_(pool) {}

void PgEventStore::prepare(pqxx::connection& conn) {
  conn.prepare("fsm_append_existing", append_existing_sql());
  conn.prepare("fsm_append_new", append_new_sql());
  conn.prepare("fsm_events_by_ids",
               "SELECT " + kEvent.select_list() +
                   " FROM events WHERE event_id IN"
                   " (SELECT (x->>'event_id')::uuid FROM jsonb_array_elements($1::jsonb) x)"
                   " ORDER BY events.global_position");
  conn.prepare("fsm_stream_version", "SELECT version FROM streams WHERE stream_id = $1");
  conn.prepare("fsm_checkpoint_at",
               "SELECT " + kPositionAndTx.select_list() +
                   " FROM events WHERE global_position = $1::bigint"
                   " AND ($2::text = '' OR account_id = NULLIF($2::text, '')::uuid)");
  conn.prepare("fsm_lock_stream", "SELECT 1 FROM streams WHERE stream_id = $1 FOR UPDATE");
  conn.prepare("fsm_read_stream", "SELECT " + kEvent.select_list() +
                                      " FROM events WHERE stream_id = $1 AND stream_version <= $2"
                                      " ORDER BY events.stream_version");
}

AppendOutcome PgEventStore::append_in(pqxx::transaction_base& tx, const AppendRequest& req) {
  if (req.events.empty()) throw std::invalid_argument("append needs at least one event");
  if (req.expected_version < 0) throw std::invalid_argument("expected_version must be >= 0");
  const std::string events_json = events_param(req.events);
  const nlohmann::json meta = req.metadata.to_json();
  const int count = static_cast<int>(req.events.size());
  const char* stmt = req.expected_version == 0 ? "fsm_append_new" : "fsm_append_existing";
  auto rows = tx.exec_prepared(stmt, req.stream_id, req.stream_type, req.expected_version,
                               events_json, count, meta.dump(), req.metadata.account_id);
  if (rows.empty()) {
    // The conditional statement inserts whenever the version matches, so an
    // empty result is always explained by the log.
    auto why = resolve_no_write(tx, req, events_json);
    if (!why) throw std::logic_error("append wrote nothing at the expected version");
    return *why;
  }
  if (rows.size() != req.events.size()) throw std::logic_error("append returned a partial batch");
  AppendResult result;
  result.new_version = req.expected_version + count;
  result.events.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[static_cast<pqxx::result::size_type>(i)];
    const auto& in = req.events[i];
    RecordedEvent e = kAssigned.decode(row);
    e.event_id = in.event_id;
    e.stream_id = req.stream_id;
    e.stream_type = req.stream_type;
    e.type = in.type;
    e.schema_version = in.schema_version;
    e.data = in.data;
    e.metadata = meta;
    result.events.push_back(std::move(e));
  }
  return result;
}

AppendOutcome PgEventStore::append(const AppendRequest& request) {
  // With nothing else to do in the transaction, the append is its single,
  // atomic statement in autocommit: one round trip instead of three.
  return pool_.run([&](pqxx::connection& conn) -> AppendOutcome {
    try {
      pqxx::nontransaction tx(conn);
      return append_in(tx, request);
    } catch (const pqxx::unique_violation&) {
      pqxx::nontransaction tx(conn);
      if (auto why = resolve_no_write(tx, request, events_param(request.events))) return *why;
      throw;
    }
  });
}

AppendOutcome PgEventStore::append(const AppendRequest& request, const InTransaction& in_tx) {
  if (!in_tx) return append(request);
  // A retry after a lost connection is safe: the event_ids make it idempotent.
  return pool_.run([&](pqxx::connection& conn) -> AppendOutcome {
    try {
      pqxx::work tx(conn);
      auto outcome = append_in(tx, request);
      if (auto* ok = std::get_if<AppendResult>(&outcome); ok && !ok->deduplicated) {
        in_tx(tx, ok->events);
        tx.commit();
      }
      return outcome;
    } catch (const pqxx::unique_violation&) {
      // An event_id is already stored, but not where this append expected
      // (e.g. a retry decided against a newer version): report what is there.
      // A violation the log does not explain (a read table's unique index,
      // written by `in_tx`) belongs to the caller.
      pqxx::work tx(conn);
      if (auto why = resolve_no_write(tx, request, events_param(request.events))) return *why;
      throw;
    }
  });
}

std::vector<std::string> PgEventStore::append_params(const AppendRequest& req) {
  return {req.stream_id,
          req.stream_type,
          std::to_string(req.expected_version),
          events_param(req.events),
          std::to_string(req.events.size()),
          req.metadata.to_json().dump(),
          req.metadata.account_id};
}

std::string PgEventStore::new_stream_ctes(const std::string& gate) {
  return new_stream_sql(gate,
                        "global_position, tx_id, stream_version, recorded_at, event_id, stream_id,"
                        " stream_type, event_type, data, metadata");
}

void PgEventStore::lock_stream(pqxx::transaction_base& tx, const std::string& stream_id) {
  tx.exec_prepared("fsm_lock_stream", stream_id);
}

std::vector<RecordedEvent> PgEventStore::read_stream_in(pqxx::transaction_base& tx,
                                                        const std::string& stream_id,
                                                        std::optional<int> up_to_version) {
  return to_recorded(tx.exec_prepared("fsm_read_stream", stream_id,
                                      up_to_version.value_or(std::numeric_limits<int>::max())));
}

std::vector<RecordedEvent> PgEventStore::read_stream(const std::string& stream_id,
                                                     std::optional<int> up_to_version) {
  return pool_.run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    return read_stream_in(tx, stream_id, up_to_version);
  });
}

ReadAllBatch PgEventStore::read_all_in(pqxx::transaction_base& tx, Checkpoint after, int limit,
                                       Horizon horizon, const EventFilter& filter) {
  if (limit <= 0) throw std::invalid_argument("limit must be > 0");
  std::vector<std::string> params = {std::to_string(after.tx_id), std::to_string(after.position),
                                     std::to_string(limit)};
  const unsigned conditions = filter_conditions(filter, params);
  const auto& [name, sql] = read_all_statement(horizon, conditions);
  tx.conn().prepare(name,
                    sql);  // once per connection: a redefinition with the same text is ignored
  ReadAllBatch batch;
  batch.events = to_recorded(tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(params)));
  // The query guarantees both; a violation would deliver an event twice or
  // skip one, so it is a loud failure, never a silent one.
  Checkpoint prev = after;
  for (const auto& e : batch.events) {
    if (!(prev < e.checkpoint())) {
      throw std::logic_error("read_all returned (" + std::to_string(e.tx_id) + "," +
                             std::to_string(e.position) + ") after (" +
                             std::to_string(prev.tx_id) + "," + std::to_string(prev.position) +
                             "), checkpoint (" + std::to_string(after.tx_id) + "," +
                             std::to_string(after.position) + ")");
    }
    prev = e.checkpoint();
  }
  batch.next = prev;
  return batch;
}

std::optional<Checkpoint> PgEventStore::checkpoint_at(pqxx::transaction_base& tx,
                                                      std::int64_t position,
                                                      const std::string& account_id) {
  const auto rows = tx.exec_prepared("fsm_checkpoint_at", position, account_id);
  if (rows.empty()) return std::nullopt;
  return kPositionAndTx.decode(rows[0]).checkpoint();
}

ReadAllBatch PgEventStore::read_all(Checkpoint after, int limit) {
  return pool_.run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    return read_all_in(tx, after, limit);
  });
}

}  // namespace fsm::events

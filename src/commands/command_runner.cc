#include "commands/command_runner.h"

#include <algorithm>

#include "common/time.h"
#include "common/uuid.h"
#include "events/event_columns.h"
#include "events/pg_auth_store.h"
#include "events/pg_event_store.h"
#include "events/pg_idempotency_store.h"
#include "projections/audit_projector.h"
#include "projections/entity_projector.h"
#include "projections/entity_reads.h"
#include "projections/replay.h"

namespace fsm::commands {

domain::EntityState load(pqxx::transaction_base& tx, const std::string& stream_id) {
  domain::EntityState state;
  for (const auto& e : events::PgEventStore::read_stream_in(tx, stream_id, std::nullopt)) {
    domain::evolve(state, e.type, e.data, e.version);
  }
  return state;
}

namespace {

// The ids of one command invocation: the command's own (the causation id of
// its events) and its events'. Decided once, outside the function the pool
// may run twice, so every attempt writes the same ids and an attempt can find
// what an earlier one committed.
class CommandIds {
 public:
  const std::string& command_id() const { return command_id_; }
  // The id of the invocation's `i`th event, made on first use: attempts may
  // decide different numbers of events.
  const std::string& event_id(std::size_t i) {
    while (event_ids_.size() <= i) event_ids_.push_back(new_uuid());
    return event_ids_[i];
  }
  // The events stored under this invocation's ids (they come from one
  // attempt: the first that commits ends the invocation).
  std::vector<events::RecordedEvent> recorded(pqxx::transaction_base& tx) const {
    if (event_ids_.empty()) return {};
    std::string ids;
    for (const auto& id : event_ids_) ids += (ids.empty() ? "{" : ",") + id;
    const auto rows = projections::exec_cached(
        tx,
        "SELECT " + events::EventColumns::all().select_list("events") +
            " FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY events.global_position",
        {ids + "}"});
    std::vector<events::RecordedEvent> out;
    for (const auto& row : rows) out.push_back(events::EventColumns::all().decode(row));
    return out;
  }

 private:
  std::string command_id_ = new_uuid();
  std::vector<std::string> event_ids_;
};

events::AppendRequest append_request(const Actor& actor, CommandIds& ids,
                                     const std::string& stream_id, const std::string& stream_type,
                                     int expected_version,
                                     const std::vector<domain::DomainEvent>& evs) {
  events::AppendRequest req;
  req.stream_id = stream_id;
  req.stream_type = stream_type;
  req.expected_version = expected_version;
  req.metadata.account_id = actor.account_id;
  req.metadata.actor_id = actor.user_id;
  req.metadata.trace_id = actor.trace_id;
  // One command, one id: it causes these events and names the conversation.
  req.metadata.causation_id = ids.command_id();
  req.metadata.correlation_id = actor.trace_id.empty() ? ids.command_id() : actor.trace_id;
  for (std::size_t i = 0; i < evs.size(); ++i) {
    req.events.push_back({ids.event_id(i), evs[i].type, 1, evs[i].data});
  }
  return req;
}

std::optional<Error> check_blockers(pqxx::work& tx, const Actor& actor, const Command& cmd) {
  for (const auto& blocker : cmd.blockers) {
    if (holds(tx, actor, blocker.relation, cmd.stream_id)) return blocker.error;
  }
  return std::nullopt;
}

// A command's outcome given its recorded events, with the entity's row as it
// now is in its read table.
Outcome outcome_of(pqxx::transaction_base& tx, const Actor& actor, const Command& cmd,
                   std::vector<events::RecordedEvent> recorded) {
  Outcome out{recorded.back().version, std::move(recorded)};
  if (const auto* table = projections::entity_table_for(cmd.stream_type)) {
    out.row = projections::read_entity(tx, *table, actor.account_id, cmd.stream_id).value_or("");
  }
  return out;
}

// What an earlier attempt of this invocation committed, if anything: the
// pool runs an attempt again when the connection broke, also after the
// COMMIT was sent (its outcome unknown). Deciding again on a state that
// already holds the change would apply it twice (a second payment), or refuse
// it as a conflict with itself.
std::optional<Outcome> committed_before(pqxx::transaction_base& tx, const Actor& actor,
                                        const Command& cmd, const CommandIds& ids) {
  auto recorded = ids.recorded(tx);
  if (recorded.empty()) return std::nullopt;
  return outcome_of(tx, actor, cmd, std::move(recorded));
}

// Appends under the invocation's ids and projects. A deduplicated append (an
// earlier attempt's events, committed while this one ran) is returned as is,
// not projected again. nullopt on a version conflict.
std::optional<events::AppendResult> append_with_ids(pqxx::work& tx, const Actor& actor,
                                                    CommandIds& ids, const std::string& stream_id,
                                                    const std::string& stream_type,
                                                    int expected_version,
                                                    const std::vector<domain::DomainEvent>& evs,
                                                    std::string* row) {
  const auto req = append_request(actor, ids, stream_id, stream_type, expected_version, evs);
  auto outcome = events::PgEventStore::append_in(tx, req);
  auto* ok = std::get_if<events::AppendResult>(&outcome);
  if (!ok) return std::nullopt;
  if (ok->deduplicated) return std::move(*ok);
  for (const auto& e : ok->events) {
    auto written = projections::apply_projections(tx, e);
    if (row) *row = written.value_or("");
  }
  return std::move(*ok);
}

std::optional<Error> check_references(pqxx::work& tx, const Actor& actor,
                                      const std::vector<Reference>& refs) {
  for (const auto& ref : refs) {
    auto value = projections::share_entity(tx, projections::entity_table(ref.stream_type),
                                           actor.account_id, ref.id, ref.column);
    if (!value) return ref.missing;
    if ((ref.equals && *value != *ref.equals) || (ref.differs && *value == *ref.differs)) {
      return ref.mismatch;
    }
  }
  return std::nullopt;
}

// The same creation as the general path, as one autocommit statement: the
// references are share-locked and checked, and the stream row, the event and
// the read-table row are inserted, by one INSERT ... WITH. nullopt when it
// wrote nothing (a reference failed, or the id exists): the general path then
// runs and says why. Repeated by the pool after a lost answer, it first looks
// for its event, which the first statement may have committed.
std::optional<Outcome> create_in_one_statement(events::PgPool& pool, const Actor& actor,
                                               const Command& cmd, CommandIds& ids) {
  const auto& table = projections::entity_table(cmd.stream_type);
  const auto req = append_request(actor, ids, cmd.stream_id, cmd.stream_type, 0, {*cmd.creation});
  std::vector<std::string> params = events::PgEventStore::append_params(req);  // $1..$7
  auto param = [&params](const std::string& value) {
    params.push_back(value);
    return projections::placeholder(params.size());
  };
  std::string ctes, gate = "true";
  for (std::size_t i = 0; i < cmd.references.size(); ++i) {
    const auto& ref = cmd.references[i];
    const auto& t = projections::entity_table(ref.stream_type);
    if (ref.column != "id" &&
        std::find(t.columns.begin(), t.columns.end(), ref.column) == t.columns.end()) {
      throw std::invalid_argument("not a column of " + t.table + ": " + ref.column);
    }
    const std::string name = "ref" + std::to_string(i);
    ctes += name + " AS (SELECT coalesce(e." + ref.column + "::text, '') AS v FROM streams s JOIN " +
            t.table + " e ON e.id = s.stream_id WHERE s.stream_id = " + param(ref.id) +
            "::uuid AND e.account_id = $7::uuid FOR SHARE), ";
    std::string cond;
    if (ref.equals) cond = " WHERE v = " + param(*ref.equals);
    if (ref.differs) cond = " WHERE v <> " + param(*ref.differs);
    gate += " AND EXISTS (SELECT 1 FROM " + name + cond + ")";
  }
  const std::string row = param(
      projections::created_row(cmd.creation->data, cmd.stream_id, actor.account_id, 1).dump());
  // created_at/updated_at are the event's recorded_at at millisecond
  // precision, exactly what the projector writes when it replays the event.
  const std::string sql =
      "WITH " + ctes + events::PgEventStore::new_stream_ctes(gate) + ", projected AS (" +
      projections::insert_row_sql(
          table, "appended a, jsonb_populate_record(NULL::" + table.table + ", " + row +
                     "::jsonb || jsonb_build_object('created_at', date_trunc('milliseconds',"
                     " a.recorded_at), 'updated_at', date_trunc('milliseconds', a.recorded_at), '" +
                     projections::kPositionColumn + "', a.global_position)) r") +
      "), audited AS (" + projections::insert_audit_sql("appended a", "a") +
      " ON CONFLICT (id) DO NOTHING) SELECT a.global_position, a.tx_id::text, a.stream_version,"
      " (extract(epoch FROM a.recorded_at) * 1000000)::bigint, (SELECT row_json FROM projected)"
      " FROM appended a";
  int calls = 0;
  return pool.run([&](pqxx::connection& conn) -> std::optional<Outcome> {
    pqxx::nontransaction tx(conn);
    if (++calls > 1) {
      if (auto done = committed_before(tx, actor, cmd, ids)) return done;
    }
    pqxx::result rows;
    try {
      rows = projections::exec_cached(tx, sql, params);
    } catch (const pqxx::unique_violation&) {
      return std::nullopt;  // the general path reports it
    }
    if (rows.empty() || rows[0][4].is_null()) return std::nullopt;
    events::RecordedEvent e;
    e.position = rows[0][0].as<std::int64_t>();
    e.tx_id = std::stoull(rows[0][1].c_str());
    e.version = rows[0][2].as<int>();
    e.recorded_at = from_unix_micros(rows[0][3].as<std::int64_t>());
    e.event_id = req.events[0].event_id;
    e.stream_id = cmd.stream_id;
    e.stream_type = cmd.stream_type;
    e.type = cmd.creation->type;
    e.data = cmd.creation->data;
    e.metadata = req.metadata.to_json();
    return Outcome{1, {std::move(e)}, rows[0][4].c_str()};
  });
}

}  // namespace

Command creating(const domain::Kind& kind, domain::Creation creation) {
  Command c;
  c.stream_id = new_uuid();
  c.stream_type = kind.stream_type;
  c.creates = true;
  c.creation = std::move(creation.event);
  c.references = std::move(creation.references);
  return c;
}

Command acting_on(const domain::Kind& kind, const Target& target) {
  Command c;
  c.stream_id = target.id;
  c.stream_type = kind.stream_type;
  c.if_match = target.if_match;
  return c;
}

bool holds(pqxx::work& tx, const Actor& actor, const domain::Relation& relation,
           const std::string& id) {
  std::string sql = "SELECT 1 FROM " + projections::entity_table(relation.stream_type).table +
                    " WHERE account_id = $1::uuid AND " + relation.column + " = $2::uuid";
  std::vector<std::string> params = {actor.account_id, id};
  if (!relation.statuses.empty()) {
    std::string list;
    for (const auto& s : relation.statuses) list += (list.empty() ? "" : ",") + s;
    sql += " AND status = ANY(string_to_array($3, ','))";
    params.push_back(list);
  }
  return !projections::exec_cached(tx, sql + " LIMIT 1", params).empty();
}

std::optional<std::vector<events::RecordedEvent>> append_and_project(
    pqxx::work& tx, const Actor& actor, const std::string& stream_id,
    const std::string& stream_type, int expected_version,
    const std::vector<domain::DomainEvent>& evs, std::string* row) {
  CommandIds ids;
  auto appended =
      append_with_ids(tx, actor, ids, stream_id, stream_type, expected_version, evs, row);
  if (!appended) return std::nullopt;
  return std::move(appended->events);
}

void prepare(pqxx::connection& conn) {
  events::PgEventStore::prepare(conn);
  events::PgAuthStore::prepare(conn);
  events::PgIdempotencyStore::prepare(conn);
  projections::prepare_entity_projector(conn);
  projections::prepare_audit_projector(conn);
}

Result<Outcome> run(events::PgPool& pool, const Actor& actor, const Command& cmd) {
  CommandIds ids;
  if (cmd.creates && cmd.creation && !cmd.after && !actor.idempotency &&
      !projections::entity_table(cmd.stream_type).line_items) {
    if (auto done = create_in_one_statement(pool, actor, cmd, ids)) return std::move(*done);
  }
  int calls = 0;  // of the function below: repeated by the pool, and by this loop
  for (int attempt = 1;; ++attempt) {
    auto result = pool.run([&](pqxx::connection& conn) -> std::optional<Result<Outcome>> {
      pqxx::work tx(conn);
      const bool again = ++calls > 1;
      // Commands on one entity queue on its stream row; the version check at
      // append time remains the guarantee (and covers concurrent creation).
      // A creation under a fresh id has nothing to lock or load the first
      // time; if its append loses, the retry looks.
      domain::EntityState state;
      if (!cmd.creates || again) {
        events::PgEventStore::lock_stream(tx, cmd.stream_id);
        // Under the lock, so an earlier attempt's commit still in progress
        // has ended.
        if (again) {
          if (auto done = committed_before(tx, actor, cmd, ids)) {
            return Result<Outcome>(std::move(*done));
          }
        }
        state = load(tx, cmd.stream_id);
      }
      if (cmd.creates) {
        if (state.exists) return Result<Outcome>(Error::of(ErrorCode::kConflict, "already exists"));
      } else if (!state.live() || state.str("account_id") != actor.account_id ||
                 (cmd.visible && !cmd.visible(state))) {
        // Another account's entity is indistinguishable from a missing one.
        return Result<Outcome>(Error::of(ErrorCode::kNotFound, "not found"));
      }
      if (cmd.if_match && *cmd.if_match != state.version) {
        Error e = Error::of(ErrorCode::kConflict, "version mismatch");
        e.expected_version = *cmd.if_match;
        e.actual_version = state.version;
        return Result<Outcome>(std::move(e));
      }
      if (auto failed = check_references(tx, actor, cmd.references)) {
        return Result<Outcome>(std::move(*failed));
      }
      auto decided = cmd.creation ? Result<std::vector<domain::DomainEvent>>(
                                        std::vector<domain::DomainEvent>{*cmd.creation})
                                  : cmd.decide(state, tx);
      if (!decided) return Result<Outcome>(decided.error());
      if (cmd.relies_on) {
        if (auto failed = check_references(tx, actor, cmd.relies_on(state))) {
          return Result<Outcome>(std::move(*failed));
        }
      }
      if (decided->empty()) return Result<Outcome>(Outcome{state.version, {}});
      if (auto blocked = check_blockers(tx, actor, cmd))
        return Result<Outcome>(std::move(*blocked));
      if (cmd.cascade) cmd.cascade(tx);
      try {
        std::string row;
        auto appended = append_with_ids(tx, actor, ids, cmd.stream_id, cmd.stream_type,
                                        state.version, *decided, &row);
        if (!appended) return std::nullopt;  // lost a race: decide again
        if (appended->deduplicated) {
          // An earlier attempt's creation, whose commit ended only after
          // this attempt looked (a new stream has no row to lock).
          return Result<Outcome>(outcome_of(tx, actor, cmd, std::move(appended->events)));
        }
        auto& recorded = appended->events;
        if (cmd.after) cmd.after(tx, recorded);
        if (actor.idempotency &&
            !events::PgIdempotencyStore::mark_committed(tx, actor.user_id, actor.idempotency->key,
                                                        actor.idempotency->claim_id)) {
          return Result<Outcome>(Error::of(
              ErrorCode::kConflict, "a retry with the same Idempotency-Key took this request over"));
        }
        tx.commit();
        return Result<Outcome>(
            Outcome{recorded.back().version, std::move(recorded), std::move(row)});
      } catch (const pqxx::unique_violation&) {
        // A read table's unique index refused the result (e.g. an email
        // already used in the account); nothing was stored.
        return Result<Outcome>(Error::of(ErrorCode::kConflict, "a unique value is already in use"));
      }
    });
    if (result) return std::move(*result);
    if (cmd.if_match) {
      // The state moved between the check and the append: report it.
      Error e = Error::of(ErrorCode::kConflict, "version mismatch");
      e.expected_version = *cmd.if_match;
      e.actual_version = pool.run([&](pqxx::connection& conn) {
        pqxx::read_transaction tx(conn);
        return load(tx, cmd.stream_id).version;
      });
      return e;
    }
    if (attempt >= kMaxAttempts) {
      return Error::of(ErrorCode::kConflict, "too many concurrent changes; retry");
    }
  }
}

}  // namespace fsm::commands

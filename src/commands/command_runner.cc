#include "commands/command_runner.h"

#include "common/uuid.h"
#include "events/pg_auth_store.h"
#include "events/pg_event_store.h"
#include "events/pg_idempotency_store.h"
#include "projections/entity_projector.h"

namespace fsm::commands {

domain::EntityState load(pqxx::transaction_base& tx, const std::string& stream_id) {
  domain::EntityState state;
  for (const auto& e : events::PgEventStore::read_stream_in(tx, stream_id, std::nullopt)) {
    domain::evolve(state, e.type, e.data, e.version);
  }
  return state;
}

std::optional<std::vector<events::RecordedEvent>> append_and_project(
    pqxx::work& tx, const Actor& actor, const std::string& stream_id,
    const std::string& stream_type, int expected_version,
    const std::vector<domain::DomainEvent>& evs, std::string* row) {
  events::AppendRequest req;
  req.stream_id = stream_id;
  req.stream_type = stream_type;
  req.expected_version = expected_version;
  req.metadata.account_id = actor.account_id;
  req.metadata.actor_id = actor.user_id;
  req.metadata.trace_id = actor.trace_id;
  // One command, one id: it causes these events and names the conversation.
  const std::string command_id = new_uuid();
  req.metadata.causation_id = command_id;
  req.metadata.correlation_id = actor.trace_id.empty() ? command_id : actor.trace_id;
  for (const auto& e : evs) req.events.push_back({new_uuid(), e.type, 1, e.data});
  auto outcome = events::PgEventStore::append_in(tx, req);
  auto* ok = std::get_if<events::AppendResult>(&outcome);
  if (!ok) return std::nullopt;
  for (const auto& e : ok->events) {
    auto written = projections::apply_entity_event(tx, e);
    if (row) *row = written.value_or("");
  }
  return ok->events;
}

void prepare(pqxx::connection& conn) {
  events::PgEventStore::prepare(conn);
  events::PgAuthStore::prepare(conn);
  events::PgIdempotencyStore::prepare(conn);
  projections::prepare_entity_projector(conn);
}

Result<Outcome> run(events::PgPool& pool, const Actor& actor, const Command& cmd) {
  for (int attempt = 1;; ++attempt) {
    auto result = pool.run([&](pqxx::connection& conn) -> std::optional<Result<Outcome>> {
      pqxx::work tx(conn);
      // Commands on one entity queue on its stream row; the version check at
      // append time remains the guarantee (and covers concurrent creation).
      // A creation under a fresh id has nothing to lock or load the first
      // time; if its append loses, the retry looks.
      domain::EntityState state;
      if (!cmd.creates || attempt > 1) {
        events::PgEventStore::lock_stream(tx, cmd.stream_id);
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
      auto decided = cmd.decide(state, tx);
      if (!decided) return Result<Outcome>(decided.error());
      if (decided->empty()) return Result<Outcome>(Outcome{state.version, {}});
      try {
        std::string row;
        auto recorded = append_and_project(tx, actor, cmd.stream_id, cmd.stream_type,
                                           state.version, *decided, &row);
        if (!recorded) return std::nullopt;  // lost a race: decide again
        if (cmd.after) cmd.after(tx, *recorded);
        if (actor.idempotency &&
            !events::PgIdempotencyStore::mark_committed(tx, actor.user_id, actor.idempotency->key,
                                                        actor.idempotency->claim_id)) {
          return Result<Outcome>(Error::of(
              ErrorCode::kConflict, "a retry with the same Idempotency-Key took this request over"));
        }
        tx.commit();
        return Result<Outcome>(
            Outcome{recorded->back().version, std::move(*recorded), std::move(row)});
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

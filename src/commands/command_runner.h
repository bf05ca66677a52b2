// Runs a command against one entity stream: load the state by folding its
// events, decide, append the new events and project them in the same
// transaction, so the next read sees them.
//
// Concurrency: a command first takes its stream's row lock, so commands on one
// entity queue rather than race, and the append still names the version the
// decision was made on. With If-Match, a different current version is a
// CONFLICT (expected vs actual). Without it, should the append still lose (two
// creations of one stream), the command re-decides against the new state, at
// most kMaxAttempts times. No update is lost, and none is applied to a state it
// was not decided on.
//
// In-doubt commits: the pool runs an attempt again when its connection broke,
// also while COMMIT was in flight. A command's event ids and causation id are
// made once per run(), so a repeated attempt first looks for its events; if an
// earlier attempt committed them, run() answers that outcome (its version and
// events, the entity's current row) instead of deciding again. No change is
// applied twice, and none is refused as a conflict with itself.
#pragma once

#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "domain/aggregate.h"
#include "domain/result.h"
#include "events/event.h"
#include "events/pg_pool.h"

namespace fsm::commands {

// The Idempotency-Key a request holds (see PgIdempotencyStore).
struct IdempotencyClaim {
  std::string key;
  std::string claim_id;
};

struct Actor {
  std::string account_id;
  // The user's id, or the name of an actor that is no user ("system:worker",
  // "operator:fsmctl"; "operator:sql" is db/008's trigger): what the events'
  // metadata.actor_id and audit_log.actor_id (text) record.
  std::string user_id;
  std::string role;
  std::string trace_id;
  // Set for a request with an Idempotency-Key: the command commits only
  // while the request still holds the key, and marks it in its transaction.
  std::optional<IdempotencyClaim> idempotency = std::nullopt;
};

// The actors that are no users.
inline constexpr const char* kWorkerActor = "system:worker";
inline constexpr const char* kFsmctlActor = "operator:fsmctl";

// Another entity a command relies on (domain/aggregate.h); the runner
// share-locks its stream and row for the rest of the transaction and checks it.
using Reference = domain::Reference;

// An existing entity a command acts on: its id and the If-Match version, if sent.
struct Target {
  std::string id;
  std::optional<int> if_match = std::nullopt;
};

struct Command {
  std::string stream_id;
  std::string stream_type;   // "job"
  bool creates = false;      // the stream must not exist yet
  std::optional<int> if_match;
  // Whether the actor may see this entity at all (a tech and another tech's
  // visit); when not, the command answers NOT_FOUND before anything else.
  std::function<bool(const domain::EntityState&)> visible;
  // Checked (and locked) before deciding.
  std::vector<Reference> references;
  // What the decision relies on, given the state (a patch's new property):
  // checked and locked after a successful decision, before the append.
  std::function<std::vector<Reference>(const domain::EntityState&)> relies_on;
  // Rows of other aggregates that refuse a decision that changes something
  // (a client with jobs is not deleted); checked after deciding.
  std::vector<domain::Blocker> blockers;
  // A creation decided in advance (validated input, references above): the
  // runner then needs no `decide`, and without `after` or an idempotency key
  // it writes stream, event and read-table row in one autocommit statement.
  std::optional<domain::DomainEvent> creation;
  // Decides on the current state (not live when `creates`). May read other
  // tables through `tx`.
  std::function<Result<std::vector<domain::DomainEvent>>(const domain::EntityState&,
                                                         pqxx::work& tx)>
      decide;
  // Runs once the decision is checked, before its events are appended: the
  // changes it brings to other streams first (a client's properties deleted
  // with it).
  std::function<void(pqxx::work& tx)> cascade;
  // Runs after the events are appended and projected, before commit.
  std::function<void(pqxx::work& tx, const std::vector<events::RecordedEvent>&)> after;
};

struct Outcome {
  int version = 0;                            // the stream's version afterwards
  std::vector<events::RecordedEvent> events;  // empty when the decision was a no-op
  std::string row = "";  // the entity's read-table row as projected (JSON), if one was written
};

inline constexpr int kMaxAttempts = 5;

// A creation of `kind` under a fresh id, decided in advance.
Command creating(const domain::Kind& kind, domain::Creation creation);
// A command on the existing entity `target` of `kind`, conditional on If-Match when sent.
Command acting_on(const domain::Kind& kind, const Target& target);

// A command on `target` whose decision is the pure `decide(state)`.
template <typename Decide>
Command deciding(const domain::Kind& kind, const Target& target, Decide decide) {
  Command c = acting_on(kind, target);
  c.decide = [decide = std::move(decide)](const domain::EntityState& s,
                                          pqxx::work&) -> Result<std::vector<domain::DomainEvent>> {
    return decide(s);
  };
  return c;
}

// Whether `relation` holds for the entity `id` of the actor's account (a live
// row of the relation's aggregate names it), read in `tx`.
bool holds(pqxx::work& tx, const Actor& actor, const domain::Relation& relation,
           const std::string& id);

// Registers every prepared statement commands use (event store, projectors).
void prepare(pqxx::connection& conn);

// Each call is one command, with ids of its own: a request the client sends
// again is decided again (an Idempotency-Key is what prevents that).
Result<Outcome> run(events::PgPool& pool, const Actor& actor, const Command& command);

// Folds a stream into its state, in `tx`.
domain::EntityState load(pqxx::transaction_base& tx, const std::string& stream_id);

// Appends `events` to a stream in `tx` and projects them, for commands that
// write several streams in one transaction (account creation). The event ids
// are fresh on every call: a caller run by PgPool::run must itself recognise
// what an earlier, in-doubt attempt committed. Returns nullopt on a version
// conflict. `row`, if given, receives the
// entity's row as the last projected event left it ("" if none was written).
std::optional<std::vector<events::RecordedEvent>> append_and_project(
    pqxx::work& tx, const Actor& actor, const std::string& stream_id,
    const std::string& stream_type, int expected_version,
    const std::vector<domain::DomainEvent>& events, std::string* row = nullptr);

}  // namespace fsm::commands

// The command layer: one function per command of each aggregate, the only
// callers of the command runner. Each maps its command onto the aggregate's
// rules (src/domain/<aggregate>.h): it builds the runner's Command, looks up
// under locks what the rules need from other aggregates, supplies the time,
// and returns the runner's Outcome. HTTP handlers parse a request and call
// one of these; nothing else decides.
//
// Inputs are validated bodies (the aggregate's field specs).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "commands/command_runner.h"
#include "commands/passwords.h"
#include "common/time.h"
#include "events/pg_pool.h"

namespace fsm::commands {

// Who acts, and on which database.
struct Context {
  events::PgPool& pool;
  const Actor& actor;
};

inline Result<Outcome> run(const Context& ctx, const Command& command) {
  return run(ctx.pool, ctx.actor, command);
}

// The shapes most commands share, for the aggregates' command functions.
// A creation the aggregate decided, or its refusal.
Result<Outcome> run_creation(const Context& ctx, const domain::Kind& kind,
                             Result<domain::Creation> creation);
// A patch: the aggregate's decision, and the entities it then relies on.
using PatchRule = Result<domain::Events> (*)(const domain::EntityState&, const nlohmann::json&);
using PatchReferences = std::vector<domain::Reference> (*)(const domain::EntityState&,
                                                           const nlohmann::json&);
Result<Outcome> run_patch(const Context& ctx, const domain::Kind& kind, const Target& target,
                          const nlohmann::json& patch, PatchRule decide, PatchReferences relies_on);
// A transition decided at the current time.
using TransitionRule = Result<domain::Events> (*)(const domain::EntityState&, const std::string& to,
                                                  const std::string& now);
Result<Outcome> run_transition(const Context& ctx, const domain::Kind& kind, const Target& target,
                               const std::string& to, TransitionRule decide);

namespace client {
Result<Outcome> create(const Context& ctx, const nlohmann::json& fields);
Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch);
// Deletes its properties with it.
Result<Outcome> remove(const Context& ctx, const Target& target);
}  // namespace client

namespace property {
Result<Outcome> create(const Context& ctx, const std::string& client_id,
                       const nlohmann::json& fields);
Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch);
Result<Outcome> remove(const Context& ctx, const Target& target);
}  // namespace property

namespace job {
Result<Outcome> create(const Context& ctx, const nlohmann::json& fields);
Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch);
Result<Outcome> transition(const Context& ctx, const Target& target, const std::string& to);
Result<Outcome> remove(const Context& ctx, const Target& target);
}  // namespace job

namespace visit {
Result<Outcome> create(const Context& ctx, const std::string& job_id, const nlohmann::json& fields);
Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch);
Result<Outcome> transition(const Context& ctx, const Target& target, const std::string& to,
                           const nlohmann::json& tech_notes);
}  // namespace visit

namespace user {
// `password_hash`: the fields' password, hashed by the caller outside any
// transaction (Argon2id is slow on purpose); `fields` without it.
Result<Outcome> create(const Context& ctx, const nlohmann::json& fields,
                       const std::string& password_hash);
// `password_hash` is set when the patch changes the password (then every
// session of the user ends).
Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch,
                      const std::optional<std::string>& password_hash);
Result<Outcome> remove(const Context& ctx, const Target& target);
}  // namespace user

namespace estimate {
Result<Outcome> create(const Context& ctx, const nlohmann::json& fields);
Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch);
Result<Outcome> transition(const Context& ctx, const Target& target, const std::string& to);
// The invoice an approved estimate became: created now (`created`), or before.
struct Converted {
  std::string invoice_id;
  bool created = false;
};
Result<Converted> convert(const Context& ctx, const Target& target);
}  // namespace estimate

namespace invoice {
Result<Outcome> create(const Context& ctx, const nlohmann::json& fields);
Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch);
Result<Outcome> transition(const Context& ctx, const Target& target, const std::string& to);
// `payment` validated by the invoice's payment_fields(); its id is `payment_id`.
Result<Outcome> record_payment(const Context& ctx, const Target& target,
                               const nlohmann::json& payment, const std::string& payment_id);
// NOT_FOUND unless the account has the payment.
Result<Outcome> remove_payment(const Context& ctx, const std::string& payment_id);
}  // namespace invoice

namespace automation {
Result<Outcome> create(const Context& ctx, const nlohmann::json& fields);
Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch);
Result<Outcome> remove(const Context& ctx, const Target& target);
// Due now (next_run_at = now), enabled or not.
Result<Outcome> run_now(const Context& ctx, const Target& target);
// The worker's record of a completed pass at `now`: last_run_at = now,
// next_run_at = now + 1 h. The actor is the context's (kWorkerActor).
Result<Outcome> record_run(const Context& ctx, const std::string& id, Timestamp now);
// The account of automation `id` (also a deleted one), for an operator who
// names only the id (fsmctl); nullopt when no automation has that id.
std::optional<std::string> account_of(events::PgPool& pool, const std::string& id);
}  // namespace automation

}  // namespace fsm::commands

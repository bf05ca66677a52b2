// Commands of users (domain/user.h). Password hashes are stored next to the
// log (credentials), in the command's transaction, never in an event.
#include "domain/user.h"

#include "commands/services.h"
#include "events/pg_auth_store.h"

namespace fsm::commands::user {

namespace rules = domain::user;

Result<Outcome> create(const Context& ctx, const nlohmann::json& fields,
                       const std::string& password_hash) {
  // A duplicate email in the account is refused by the users table's index
  // in this transaction: a 409 that stores nothing.
  auto cmd = creating(rules::kKind, rules::create(fields, ctx.actor.account_id));
  cmd.after = [&, id = cmd.stream_id](pqxx::work& tx, const auto&) {
    events::PgAuthStore::set_password(tx, id, password_hash);
  };
  return run(ctx, cmd);
}

Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch,
                      const std::optional<std::string>& password_hash) {
  auto cmd = deciding(rules::kKind, target,
                      [&](const auto& s) { return rules::patch(s, patch, ctx.actor.role); });
  cmd.after = [&](pqxx::work& tx, const auto&) {
    if (!password_hash) return;
    // A new password ends every session opened with the old one.
    events::PgAuthStore::set_password(tx, target.id, *password_hash);
    events::PgAuthStore::revoke_user_sessions(tx, target.id);
  };
  return run(ctx, cmd);
}

Result<Outcome> remove(const Context& ctx, const Target& target) {
  auto cmd = deciding(rules::kKind, target, [&](const auto& s) {
    return rules::remove(s, ctx.actor.user_id, target.id);
  });
  cmd.blockers = rules::remove_blockers();
  cmd.after = [&](pqxx::work& tx, const auto&) { events::PgAuthStore::forget_user(tx, target.id); };
  return run(ctx, cmd);
}

}  // namespace fsm::commands::user

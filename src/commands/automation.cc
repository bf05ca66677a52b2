// Commands of automations (domain/automation.h).
#include "domain/automation.h"

#include "commands/services.h"
#include "common/time.h"
#include "events/pg_event_store.h"

namespace fsm::commands::automation {

namespace rules = domain::automation;

Result<Outcome> create(const Context& ctx, const nlohmann::json& fields) {
  return run_creation(ctx, rules::kKind, rules::create(fields, ctx.actor.account_id, fsm::now()));
}

Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch) {
  return run(ctx,
             deciding(rules::kKind, target, [&](const auto& s) { return rules::patch(s, patch); }));
}

Result<Outcome> remove(const Context& ctx, const Target& target) {
  return run(ctx, deciding(rules::kKind, target, rules::remove));
}

Result<Outcome> run_now(const Context& ctx, const Target& target) {
  const Timestamp now = fsm::now();
  return run(ctx, deciding(rules::kKind, target,
                           [now](const auto& s) { return rules::request_run(s, now); }));
}

Result<Outcome> record_run(const Context& ctx, const std::string& id, Timestamp now) {
  return run(ctx, deciding(rules::kKind, Target{id},
                           [now](const auto& s) { return rules::record_run(s, now); }));
}

std::optional<std::string> account_of(events::PgPool& pool, const std::string& id) {
  return pool.run([&](pqxx::connection& conn) -> std::optional<std::string> {
    pqxx::read_transaction tx(conn);
    // A stream's first event names its type and account, which never change.
    const auto first = events::PgEventStore::read_stream_in(tx, id, 1);
    if (first.empty() || first[0].stream_type != rules::kKind.stream_type) return std::nullopt;
    const auto account = first[0].metadata.value("account_id", nlohmann::json());
    if (!account.is_string()) return std::nullopt;
    return account.get<std::string>();
  });
}

}  // namespace fsm::commands::automation

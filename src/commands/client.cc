// Commands of clients and properties (domain/client.h, domain/property.h).
#include "domain/client.h"

#include "commands/services.h"
#include "domain/property.h"
#include "events/pg_event_store.h"
#include "projections/entity_reads.h"

namespace fsm::commands {
namespace {

// Deletes every live entity of `owned` that names `owner_id`, each by its own
// stream's command (one Deleted event each), in the owner's transaction.
void delete_owned(pqxx::work& tx, const Actor& actor, const domain::Relation& owned,
                  const std::string& owner_id) {
  auto ids = projections::exec_cached(
      tx,
      "SELECT id::text FROM " + projections::entity_table(owned.stream_type).table +
          " WHERE account_id = $1::uuid AND " + owned.column + " = $2::uuid ORDER BY id",
      {actor.account_id, owner_id});
  for (const auto& r : ids) {
    const std::string id = r[0].c_str();
    events::PgEventStore::lock_stream(tx, id);
    const auto state = load(tx, id);
    if (!state.live()) continue;
    auto events = domain::property::remove(state);
    if (!append_and_project(tx, actor, id, owned.stream_type, state.version, *events)) {
      throw std::logic_error("a locked stream moved");
    }
  }
}

}  // namespace

namespace client {

Result<Outcome> create(const Context& ctx, const nlohmann::json& fields) {
  return run(ctx,
             creating(domain::client::kKind, domain::client::create(fields, ctx.actor.account_id)));
}

Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch) {
  return run(ctx, deciding(domain::client::kKind, target,
                           [&](const auto& s) { return domain::client::patch(s, patch); }));
}

Result<Outcome> remove(const Context& ctx, const Target& target) {
  auto cmd = deciding(domain::client::kKind, target, domain::client::remove);
  cmd.blockers = domain::client::remove_blockers();
  cmd.cascade = [&](pqxx::work& tx) {
    delete_owned(tx, ctx.actor, domain::client::owned_properties(), target.id);
  };
  return run(ctx, cmd);
}

}  // namespace client

namespace property {

Result<Outcome> create(const Context& ctx, const std::string& client_id,
                       const nlohmann::json& fields) {
  return run(ctx, creating(domain::property::kKind,
                           domain::property::create(fields, client_id, ctx.actor.account_id)));
}

Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch) {
  return run(ctx, deciding(domain::property::kKind, target,
                           [&](const auto& s) { return domain::property::patch(s, patch); }));
}

Result<Outcome> remove(const Context& ctx, const Target& target) {
  auto cmd = deciding(domain::property::kKind, target, domain::property::remove);
  cmd.blockers = domain::property::remove_blockers();
  return run(ctx, cmd);
}

}  // namespace property
}  // namespace fsm::commands

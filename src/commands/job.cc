// Commands of jobs and visits (domain/job.h, domain/visit.h).
#include "domain/job.h"

#include "commands/services.h"
#include "common/time.h"
#include "domain/visit.h"

namespace fsm::commands {
namespace job {

namespace rules = domain::job;

Result<Outcome> create(const Context& ctx, const nlohmann::json& fields) {
  return run_creation(ctx, rules::kKind, rules::create(fields, ctx.actor.account_id));
}

Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch) {
  return run_patch(ctx, rules::kKind, target, patch, rules::patch, rules::patch_references);
}

Result<Outcome> transition(const Context& ctx, const Target& target, const std::string& to) {
  auto cmd = acting_on(rules::kKind, target);
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) {
    const bool invoiced = to == "invoiced" && holds(tx, ctx.actor, rules::invoicing(), target.id);
    return rules::transition(s, to, invoiced);
  };
  return run(ctx, cmd);
}

Result<Outcome> remove(const Context& ctx, const Target& target) {
  auto cmd = deciding(rules::kKind, target, rules::remove);
  cmd.blockers = rules::remove_blockers();
  return run(ctx, cmd);
}

}  // namespace job

namespace visit {

namespace rules = domain::visit;

// A tech acts only on the visits assigned to them; others do not exist for them.
Command on_visible(const Context& ctx, const Target& target) {
  auto cmd = acting_on(rules::kKind, target);
  cmd.visible = [&actor = ctx.actor](const domain::EntityState& v) {
    return rules::visible_to(v, actor.role, actor.user_id);
  };
  return cmd;
}

Result<Outcome> create(const Context& ctx, const std::string& job_id,
                       const nlohmann::json& fields) {
  return run_creation(ctx, rules::kKind, rules::create(fields, job_id, ctx.actor.account_id));
}

Result<Outcome> patch(const Context& ctx, const Target& target, const nlohmann::json& patch) {
  auto cmd = on_visible(ctx, target);
  cmd.decide = [&](const domain::EntityState& s, pqxx::work&) {
    return rules::patch(s, patch, ctx.actor.role);
  };
  cmd.relies_on = [&](const auto&) { return rules::patch_references(patch); };
  return run(ctx, cmd);
}

Result<Outcome> transition(const Context& ctx, const Target& target, const std::string& to,
                           const nlohmann::json& tech_notes) {
  auto cmd = on_visible(ctx, target);
  const std::string now = format_rfc3339(fsm::now());
  cmd.decide = [&](const domain::EntityState& s, pqxx::work&) {
    return rules::transition(s, to, tech_notes, now);
  };
  return run(ctx, cmd);
}

}  // namespace visit
}  // namespace fsm::commands

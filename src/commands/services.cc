#include "commands/services.h"

#include "common/time.h"

namespace fsm::commands {

Result<Outcome> run_creation(const Context& ctx, const domain::Kind& kind,
                             Result<domain::Creation> creation) {
  if (!creation) return creation.error();
  return run(ctx, creating(kind, std::move(creation).value()));
}

Result<Outcome> run_patch(const Context& ctx, const domain::Kind& kind, const Target& target,
                          const nlohmann::json& patch, PatchRule decide,
                          PatchReferences relies_on) {
  auto cmd = deciding(kind, target, [&](const auto& s) { return decide(s, patch); });
  cmd.relies_on = [&](const auto& s) { return relies_on(s, patch); };
  return run(ctx, cmd);
}

Result<Outcome> run_transition(const Context& ctx, const domain::Kind& kind, const Target& target,
                               const std::string& to, TransitionRule decide) {
  const std::string now = format_rfc3339(fsm::now());
  return run(ctx, deciding(kind, target, [&](const auto& s) { return decide(s, to, now); }));
}

}  // namespace fsm::commands

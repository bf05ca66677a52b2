// /api/v1/automations (domain/automation.h): the office's rules for the
// worker. Owner and admin read, create, change and run them; only the owner
// deletes; techs see none of it.
#include "domain/automation.h"
#include "http/api.h"

namespace fsm::http {

namespace cmd = commands;
namespace rules = domain::automation;
using domain::Mode;

void automation_routes(Api& api) {
  // What runs next comes first, as the runbook's query orders them.
  static const ListOptions kList = {
      {"next_run_at", "last_run_at", "type", "created_at", "updated_at"},
      {{domain::enum_field("type", rules::types())},
       {domain::enum_field("enabled", {"true", "false"})}},
      "next_run_at",
      false};
  const std::string type = rules::kKind.stream_type;
  api.get("/api/v1/automations", kOffice,
          [&api, type](const Call& c) { return api.list(c, type, kList); });
  api.post("/api/v1/automations", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto fields, c.body(rules::create_fields(), Mode::kCreate));
    return api.answer(c, cmd::automation::create(c.ctx(), fields), type, 201);
  });
  api.get("/api/v1/automations/:id", kOffice,
          [&api, type](const Call& c) { return api.read(c, type); });
  api.patch("/api/v1/automations/:id", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto patch, c.body(rules::patch_fields(), Mode::kPatch));
    return api.answer(c, cmd::automation::patch(c.ctx(), target, patch), type, 200);
  });
  api.del("/api/v1/automations/:id", kOwner, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    return api.answer(c, cmd::automation::remove(c.ctx(), target), type, 204);
  });
  // Takes no body, like /convert: the path says it all.
  api.post("/api/v1/automations/:id/run", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    return api.answer(c, cmd::automation::run_now(c.ctx(), target), type, 200);
  });
}

}  // namespace fsm::http

// /api/v1/jobs and visits: the work and its schedule (domain/job.h,
// domain/visit.h). Techs see the jobs and visits assigned to them, move
// their own visits and edit their tech_notes; everything else is the office's.
#include "domain/job.h"
#include "domain/visit.h"
#include "http/api.h"

namespace fsm::http {

namespace cmd = commands;
using domain::FieldType;
using domain::Mode;

void job_routes(Api& api) {
  static const ListOptions kList = {
      {"created_at", "updated_at", "title", "status", "scheduled_start"},
      {{domain::enum_field("status", domain::job::statuses())},
       {domain::enum_field("priority", domain::job::priorities())},
       {{"client_id", FieldType::kUuid}},
       {{"property_id", FieldType::kUuid}}}};
  const std::string type = domain::job::kKind.stream_type;
  api.get("/api/v1/jobs", kAll, [&api, type](const Call& c) { return api.list(c, type, kList); });
  api.post("/api/v1/jobs", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto fields, c.body(domain::job::create_fields(), Mode::kCreate));
    return api.answer(c, cmd::job::create(c.ctx(), fields), type, 201);
  });
  api.get("/api/v1/jobs/:id", kAll, [&api, type](const Call& c) { return api.read(c, type); });
  api.patch("/api/v1/jobs/:id", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto patch, c.body(domain::job::patch_fields(), Mode::kPatch));
    return api.answer(c, cmd::job::patch(c.ctx(), target, patch), type, 200);
  });
  api.del("/api/v1/jobs/:id", kOwner, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    return api.answer(c, cmd::job::remove(c.ctx(), target), type, 204);
  });
  api.post("/api/v1/jobs/:id/transition", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto body, c.body(domain::transition_fields(), Mode::kCreate));
    return api.answer(c, cmd::job::transition(c.ctx(), target, body["status"]), type, 200);
  });
}

void visit_routes(Api& api) {
  // The schedule: visits overlapping [from, to), earliest first by default.
  static const ListOptions kList = {
      {"scheduled_start", "scheduled_end", "status", "created_at", "updated_at"},
      {{domain::enum_field("status", domain::visit::statuses())},
       {{"assigned_user_id", FieldType::kUuid}},
       {{"from", FieldType::kTimestamp}, "scheduled_end", ">"},
       {{"to", FieldType::kTimestamp}, "scheduled_start", "<"}},
      "scheduled_start",
      false};
  const std::string type = domain::visit::kKind.stream_type;
  api.get("/api/v1/visits", kAll, [&api, type](const Call& c) { return api.list(c, type, kList); });
  api.get("/api/v1/jobs/:jobId/visits", kAll, [&api, type](const Call& c) {
    return api.list_under(c, domain::job::kKind.stream_type, "jobId", type, "job_id", kList);
  });
  api.post("/api/v1/jobs/:jobId/visits", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto job_id, c.id("jobId"));
    FSM_TRY(auto fields, c.body(domain::visit::create_fields(), Mode::kCreate));
    return api.answer(c, cmd::visit::create(c.ctx(), job_id, fields), type, 201);
  });
  api.get("/api/v1/visits/:id", kAll, [&api, type](const Call& c) { return api.read(c, type); });
  api.patch("/api/v1/visits/:id", kAll, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto patch, c.body(domain::visit::patch_fields(), Mode::kPatch));
    return api.answer(c, cmd::visit::patch(c.ctx(), target, patch), type, 200);
  });
  api.post("/api/v1/visits/:id/transition", kAll, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto body, c.body(domain::visit::transition_fields(), Mode::kCreate));
    return api.answer(
        c, cmd::visit::transition(c.ctx(), target, body["status"], body["tech_notes"]), type, 200);
  });
}

}  // namespace fsm::http

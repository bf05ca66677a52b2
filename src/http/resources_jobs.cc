// /api/v1/jobs and visits: the work and its schedule. Techs see the jobs and
// visits assigned to them (through a visit's assigned_user_id), transition
// their own visits and edit their tech_notes; everything else is the office's.
#include "common/time.h"
#include "common/uuid.h"
#include "domain/rules.h"
#include "events/pg_event_store.h"
#include "http/resources.h"

namespace fsm::http {
namespace {

using domain::FieldSpec;
using domain::FieldType;

FieldSpec one_of(const char* name, const std::vector<std::string>& choices) {
  return {name, FieldType::kEnum, false, false, 0, choices};
}

const ListOptions& job_list() {
  static const ListOptions o = {
      {"created_at", "updated_at", "title", "status", "scheduled_start"},
      {{one_of("status", domain::job_statuses())},
       {one_of("priority", domain::priorities())},
       {{"client_id", FieldType::kUuid}},
       {{"property_id", FieldType::kUuid}}}};
  return o;
}

// The schedule: visits overlapping [from, to), earliest first by default.
const ListOptions& visit_list() {
  static const ListOptions o = {
      {"scheduled_start", "scheduled_end", "status", "created_at", "updated_at"},
      {{one_of("status", domain::visit_statuses())},
       {{"assigned_user_id", FieldType::kUuid}},
       {{"from", FieldType::kTimestamp}, "scheduled_end", ">"},
       {{"to", FieldType::kTimestamp}, "scheduled_start", "<"}},
      "scheduled_start",
      false};
  return o;
}

// A column of an entity of the account, share-locked (see require_entity).
std::optional<std::string> locked_column(pqxx::work& tx, const commands::Actor& actor,
                                         const char* stream_type, const char* column,
                                         const std::string& id) {
  return projections::share_entity(tx, projections::entity_table(stream_type), actor.account_id,
                                   id, column);
}

Error wrong_client() {
  return Error::validation({{{"property_id"}, "must be a property of the job's client"}});
}

// A job's property must be one of the job's client's properties.
std::optional<Error> check_property(pqxx::work& tx, const commands::Actor& actor,
                                    const nlohmann::json& property_id,
                                    const std::string& client_id) {
  if (!property_id.is_string()) return std::nullopt;
  auto owner = locked_column(tx, actor, "property", "client_id", property_id.get<std::string>());
  if (!owner) return bad_reference("property_id", "property");
  if (*owner != client_id) return wrong_client();
  return std::nullopt;
}

std::optional<Error> check_assignee(pqxx::work& tx, const commands::Actor& actor,
                                    const nlohmann::json& user_id) {
  if (!user_id.is_string()) return std::nullopt;
  return require_entity(tx, actor, "user", user_id.get<std::string>(),
                        bad_reference("assigned_user_id", "user"));
}

// A tech acts only on the visits assigned to them; others do not exist for them.
std::function<bool(const domain::EntityState&)> visible_to(const commands::Actor& actor) {
  return [&actor](const domain::EntityState& visit) {
    return actor.role != "tech" || visit.str("assigned_user_id") == actor.user_id;
  };
}

Result<nlohmann::json> body_of(const Request& req, const std::vector<FieldSpec>& specs,
                               domain::Mode mode) {
  auto body = domain::parse_json_object(req.body);
  if (!body) return body.error();
  return domain::validate_body(*body, specs, mode);
}

}  // namespace

// ------------------------------------------------------------------ jobs

Response Resources::create_job(const Request& req) {
  auto who = caller(req, kOffice);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  auto fields = body_of(req, domain::job_create_fields(), domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  auto issues = domain::check_schedule(*fields, "scheduled_start", "scheduled_end");
  if (!issues.empty()) return error_response(Error::validation(std::move(issues)), req.request_id);
  auto& data = fields.value();
  if (data["priority"].is_null()) data["priority"] = "normal";
  data["status"] = "draft";
  std::vector<commands::Reference> refs = {
      {"client", data["client_id"], bad_reference("client_id", "client")}};
  if (data["property_id"].is_string()) {
    refs.push_back({"property", data["property_id"], bad_reference("property_id", "property"),
                    "client_id", data["client_id"].get<std::string>(), std::nullopt,
                    wrong_client()});
  }
  return create_entity(req, std::get<commands::Actor>(who), "job", "Job", data, std::move(refs));
}

Response Resources::patch_job(const Request& req) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto patch = body_of(req, domain::job_patch_fields(), domain::Mode::kPatch);
  if (!patch) return error_response(patch.error(), req.request_id);
  auto cmd = std::get<Target>(t).command("job");
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) -> Result<domain::Events> {
    auto decided = domain::decide_job_patch(s, *patch);
    if (!decided || !patch->contains("property_id")) return decided;
    if (auto e = check_property(tx, actor, (*patch)["property_id"], s.str("client_id"))) return *e;
    return decided;
  };
  return run_and_answer(req, actor, cmd, 200);
}

Response Resources::delete_job(const Request& req) {
  auto t = target(req, kOwner);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto cmd = std::get<Target>(t).command("job");
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) -> Result<domain::Events> {
    auto decided = domain::decide_job_delete(s);
    // New visits share-lock the job's stream, which this command holds.
    if (decided && projections::is_referenced(tx, "visits", "job_id", actor.account_id, id)) {
      return Error::of(ErrorCode::kConflict, "the job still has visits");
    }
    return decided;
  };
  return run_and_answer(req, actor, cmd, 204);
}

Response Resources::transition_job(const Request& req) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto body = body_of(req, domain::transition_fields(), domain::Mode::kCreate);
  if (!body) return error_response(body.error(), req.request_id);
  const std::string to = (*body)["status"];
  auto cmd = std::get<Target>(t).command("job");
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) {
    // A void invoice does not count. Invoices name their job at creation
    // (share-locking it), so none can appear unseen while this job is locked.
    const bool invoiced =
        to == "invoiced" &&
        !tx.exec_params("SELECT 1 FROM invoices WHERE account_id = $1::uuid AND job_id = $2::uuid"
                        " AND status <> 'void' LIMIT 1",
                        std::get<Target>(t).actor.account_id, std::get<Target>(t).id)
             .empty();
    return domain::decide_job_transition(s, to, invoiced);
  };
  return run_and_answer(req, actor, cmd, 200);
}

// ---------------------------------------------------------------- visits

Response Resources::create_visit(const Request& req) {
  auto who = caller(req, kOffice);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const std::string job_id = req.params.at("jobId");
  if (!is_uuid(job_id)) return not_found(req);
  auto fields = body_of(req, domain::visit_create_fields(), domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  auto issues = domain::check_schedule(*fields, "scheduled_start", "scheduled_end");
  if (!issues.empty()) return error_response(Error::validation(std::move(issues)), req.request_id);
  auto& data = fields.value();
  data["job_id"] = job_id;
  data["status"] = "scheduled";
  data["arrived_at"] = nullptr;
  data["completed_at"] = nullptr;
  std::vector<commands::Reference> refs = {
      {"job", job_id, Error::of(ErrorCode::kNotFound, "no such job"), "status", std::nullopt,
       "invoiced", Error::of(ErrorCode::kImmutableEntity, "an invoiced job takes no new visits")}};
  if (data["assigned_user_id"].is_string()) {
    refs.push_back({"user", data["assigned_user_id"], bad_reference("assigned_user_id", "user")});
  }
  return create_entity(req, std::get<commands::Actor>(who), "visit", "Visit", data,
                       std::move(refs));
}

Response Resources::patch_visit(const Request& req) {
  auto t = target(req, kAll);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto patch = body_of(req, domain::visit_patch_fields(), domain::Mode::kPatch);
  if (!patch) return error_response(patch.error(), req.request_id);
  if (actor.role == "tech") {
    for (const auto& [key, value] : patch->items()) {
      if (key != "tech_notes") {
        return error_response(Error::of(ErrorCode::kForbidden, "a tech may change tech_notes only"),
                              req.request_id);
      }
    }
  }
  auto cmd = std::get<Target>(t).command("visit");
  cmd.visible = visible_to(actor);
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) -> Result<domain::Events> {
    auto decided = domain::decide_visit_patch(s, *patch);
    if (!decided || !patch->contains("assigned_user_id")) return decided;
    if (auto e = check_assignee(tx, actor, (*patch)["assigned_user_id"])) return *e;
    return decided;
  };
  return run_and_answer(req, actor, cmd, 200);
}

Response Resources::transition_visit(const Request& req) {
  auto t = target(req, kAll);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto body = body_of(req, domain::visit_transition_fields(), domain::Mode::kCreate);
  if (!body) return error_response(body.error(), req.request_id);
  auto cmd = std::get<Target>(t).command("visit");
  cmd.visible = visible_to(actor);
  cmd.decide = [&](const domain::EntityState& s, pqxx::work&) -> Result<domain::Events> {
    return domain::decide_visit_transition(s, (*body)["status"], (*body)["tech_notes"],
                                           format_rfc3339(now()));
  };
  return run_and_answer(req, actor, cmd, 200);
}

void Resources::register_job_routes(Router& router) {
  add(router, Method::kGet, "/api/v1/jobs",
      [this](const Request& r) { return list(r, "job", kAll, job_list()); });
  add_post(router, "/api/v1/jobs", [this](const Request& r) { return create_job(r); });
  add(router, Method::kGet, "/api/v1/jobs/:id",
      [this](const Request& r) { return get(r, "job", kAll); });
  add(router, Method::kPatch, "/api/v1/jobs/:id",
      [this](const Request& r) { return patch_job(r); });
  add(router, Method::kDelete, "/api/v1/jobs/:id",
      [this](const Request& r) { return delete_job(r); });
  add_post(router, "/api/v1/jobs/:id/transition",
             [this](const Request& r) { return transition_job(r); });

  add(router, Method::kGet, "/api/v1/visits",
      [this](const Request& r) { return list(r, "visit", kAll, visit_list()); });
  add(router, Method::kGet, "/api/v1/jobs/:jobId/visits", [this](const Request& r) {
    return list_under(r, "job", "jobId", "visit", "job_id", visit_list());
  });
  add_post(router, "/api/v1/jobs/:jobId/visits",
             [this](const Request& r) { return create_visit(r); });
  add(router, Method::kGet, "/api/v1/visits/:id",
      [this](const Request& r) { return get(r, "visit", kAll); });
  add(router, Method::kPatch, "/api/v1/visits/:id",
      [this](const Request& r) { return patch_visit(r); });
  add_post(router, "/api/v1/visits/:id/transition",
             [this](const Request& r) { return transition_visit(r); });
}

}  // namespace fsm::http

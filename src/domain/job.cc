#include "domain/job.h"

namespace fsm::domain::job {
namespace {

using nlohmann::json;

Error wrong_client() {
  return Error::validation({{{"property_id"}, "must be a property of the job's client"}});
}

// A job's property must be one of the job's client's properties.
Reference property_of(const std::string& property_id, const std::string& client_id) {
  return {"property",    property_id, bad_reference("property_id", "property"),
          "client_id",   client_id,   std::nullopt,
          wrong_client()};
}

}  // namespace

const std::vector<std::string>& statuses() {
  static const std::vector<std::string> s = {"draft",     "quoted",    "scheduled", "in_progress",
                                             "completed", "cancelled", "invoiced"};
  return s;
}

const std::vector<std::string>& priorities() {
  static const std::vector<std::string> p = {"low", "normal", "high", "urgent"};
  return p;
}

const std::vector<FieldSpec>& create_fields() {
  static const std::vector<FieldSpec> f = {
      uuid_field("client_id", true),        uuid_field("property_id", false),
      text_field("title", true, 200),       text_field("description", false, 5000),
      enum_field("priority", priorities()), time_field("scheduled_start"),
      time_field("scheduled_end")};
  return f;
}

const std::vector<FieldSpec>& patch_fields() {
  static const std::vector<FieldSpec> f = for_patch(without(create_fields(), {"client_id"}));
  return f;
}

bool transition_allowed(const std::string& from, const std::string& to) {
  static const TransitionTable t = {
      {"draft", {"quoted", "scheduled"}},
      {"quoted", {"scheduled", "draft"}},
      {"scheduled", {"in_progress", "cancelled"}},
      {"in_progress", {"completed", "cancelled"}},
      {"completed", {"invoiced"}},
      {"cancelled", {"draft"}},
  };
  return allowed(t, from, to);
}

Result<Creation> create(const json& fields, const std::string& account_id) {
  auto issues = check_schedule(fields, "scheduled_start", "scheduled_end");
  if (!issues.empty()) return Error::validation(std::move(issues));
  json data = fields;
  if (data["priority"].is_null()) data["priority"] = "normal";
  data["status"] = "draft";
  Creation c{created(kKind, data, account_id),
             {{"client", data["client_id"], bad_reference("client_id", "client")}}};
  if (data["property_id"].is_string()) {
    c.references.push_back(property_of(data["property_id"], data["client_id"]));
  }
  return c;
}

Result<Events> patch(const EntityState& job, const json& patch) {
  if (job.str("status") == "invoiced") {
    return Error::of(ErrorCode::kImmutableEntity, "an invoiced job cannot be changed");
  }
  auto issues = check_schedule(merged(job, patch), "scheduled_start", "scheduled_end");
  if (!issues.empty()) return Error::validation(std::move(issues));
  return update_events(kKind, job, patch);
}

std::vector<Reference> patch_references(const EntityState& job, const json& patch) {
  if (!patch.contains("property_id") || !patch["property_id"].is_string()) return {};
  return {property_of(patch["property_id"], job.str("client_id"))};
}

Result<Events> transition(const EntityState& job, const std::string& to, bool invoiced) {
  if (auto e = check_status(statuses(), to, "job")) return *e;
  const std::string from = job.str("status");
  if (!transition_allowed(from, to)) return invalid_transition("job", from, to);
  if (to == "invoiced" && !invoiced) {
    return Error::of(ErrorCode::kInvalidTransition,
                     "a job becomes invoiced only once an invoice references it");
  }
  return Events{status_event(kKind.name, job, to)};
}

Relation invoicing() {
  // A void invoice does not count. Invoices name their job at creation
  // (share-locking it), so none can appear unseen while the job is locked.
  return {"invoice", "job_id", {"draft", "sent", "partial", "overdue", "paid"}};
}

Result<Events> remove(const EntityState& job) {
  if (job.str("status") != "draft") {
    return Error::of(ErrorCode::kInvalidTransition, "only a draft job can be deleted");
  }
  return Events{deleted_event(kKind.name, job)};
}

const std::vector<Blocker>& remove_blockers() {
  // New visits share-lock the job's stream, which the command holds.
  static const std::vector<Blocker> b = {
      {{"visit", "job_id"}, Error::of(ErrorCode::kConflict, "the job still has visits")}};
  return b;
}

}  // namespace fsm::domain::job

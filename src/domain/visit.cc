#include "domain/visit.h"

namespace fsm::domain::visit {
namespace {

using nlohmann::json;

Reference assignee(const json& user_id) {
  return {"user", user_id, bad_reference("assigned_user_id", "user")};
}

}  // namespace

const std::vector<std::string>& statuses() {
  static const std::vector<std::string> s = {"scheduled", "arrived", "in_progress", "completed",
                                             "cancelled"};
  return s;
}

const std::vector<std::string>& open_statuses() {
  static const std::vector<std::string> s = {"scheduled", "arrived", "in_progress"};
  return s;
}

const std::vector<FieldSpec>& create_fields() {
  static const std::vector<FieldSpec> f = {
      time_field("scheduled_start", true), time_field("scheduled_end", true),
      uuid_field("assigned_user_id", false), text_field("tech_notes", false, 5000)};
  return f;
}

const std::vector<FieldSpec>& patch_fields() {
  static const std::vector<FieldSpec> f = for_patch(create_fields());
  return f;
}

const std::vector<FieldSpec>& transition_fields() {
  static const std::vector<FieldSpec> f = {{"status", FieldType::kText, true, false, 50},
                                           text_field("tech_notes", false, 5000)};
  return f;
}

bool transition_allowed(const std::string& from, const std::string& to) {
  static const TransitionTable t = {
      {"scheduled", {"arrived", "cancelled"}},
      {"arrived", {"in_progress", "cancelled"}},
      {"in_progress", {"completed"}},
  };
  return allowed(t, from, to);
}

bool visible_to(const EntityState& visit, const std::string& role, const std::string& user_id) {
  return role != "tech" || visit.str("assigned_user_id") == user_id;
}

Result<Creation> create(const json& fields, const std::string& job_id,
                        const std::string& account_id) {
  auto issues = check_schedule(fields, "scheduled_start", "scheduled_end");
  if (!issues.empty()) return Error::validation(std::move(issues));
  json data = fields;
  data["job_id"] = job_id;
  data["status"] = "scheduled";
  data["arrived_at"] = nullptr;
  data["completed_at"] = nullptr;
  Creation c{created(kKind, data, account_id),
             {{"job", job_id, Error::of(ErrorCode::kNotFound, "no such job"), "status",
               std::nullopt, "invoiced",
               Error::of(ErrorCode::kImmutableEntity, "an invoiced job takes no new visits")}}};
  if (data["assigned_user_id"].is_string())
    c.references.push_back(assignee(data["assigned_user_id"]));
  return c;
}

Result<Events> patch(const EntityState& visit, const json& patch, const std::string& actor_role) {
  if (actor_role == "tech") {
    for (const auto& [key, value] : patch.items()) {
      if (key != "tech_notes") {
        return Error::of(ErrorCode::kForbidden, "a tech may change tech_notes only");
      }
    }
  }
  const std::string status = visit.str("status");
  if (status == "completed" || status == "cancelled") {
    // Notes may still be added after the fact; the schedule is history.
    for (const auto& [k, v] : patch.items()) {
      if (k != "tech_notes") {
        return Error::of(ErrorCode::kImmutableEntity,
                         "a " + status + " visit only accepts tech_notes changes");
      }
    }
  }
  auto issues = check_schedule(merged(visit, patch), "scheduled_start", "scheduled_end");
  if (!issues.empty()) return Error::validation(std::move(issues));
  return update_events(kKind, visit, patch);
}

std::vector<Reference> patch_references(const json& patch) {
  if (!patch.contains("assigned_user_id") || !patch["assigned_user_id"].is_string()) return {};
  return {assignee(patch["assigned_user_id"])};
}

Result<Events> transition(const EntityState& visit, const std::string& to, const json& tech_notes,
                          const std::string& now) {
  if (auto e = check_status(statuses(), to, "visit")) return *e;
  const std::string from = visit.str("status");
  if (!transition_allowed(from, to)) return invalid_transition("visit", from, to);
  json changes = json::object();
  if (to == "arrived") {
    if (visit.str("assigned_user_id").empty()) {
      return Error::of(ErrorCode::kInvalidTransition, "a visit needs an assigned user to arrive");
    }
    changes["arrived_at"] = now;
  }
  if (to == "completed") changes["completed_at"] = now;
  if (!tech_notes.is_null()) changes["tech_notes"] = tech_notes;
  return Events{status_event(kKind.name, visit, to, std::move(changes))};
}

}  // namespace fsm::domain::visit

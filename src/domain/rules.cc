#include "domain/rules.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/time.h"

namespace fsm::domain {
namespace {

using nlohmann::json;

const std::vector<std::string> kJobStatuses = {"draft",     "quoted",    "scheduled", "in_progress",
                                               "completed", "cancelled", "invoiced"};
const std::vector<std::string> kVisitStatuses = {"scheduled", "arrived", "in_progress",
                                                 "completed", "cancelled"};
const std::vector<std::string> kPriorities = {"low", "normal", "high", "urgent"};

FieldSpec text(const char* name, bool required, std::size_t max = 500) {
  return FieldSpec{name, FieldType::kText, required, !required, max};
}
FieldSpec uuid(const char* name, bool required) {
  return FieldSpec{name, FieldType::kUuid, required, !required};
}
FieldSpec when(const char* name, bool required) {
  return FieldSpec{name, FieldType::kTimestamp, required, !required};
}

std::vector<FieldSpec> without(std::vector<FieldSpec> specs, const std::set<std::string>& drop) {
  specs.erase(std::remove_if(specs.begin(), specs.end(),
                             [&](const FieldSpec& s) { return drop.count(s.name) > 0; }),
              specs.end());
  return specs;
}

// In a PATCH, a required field may change but never be cleared.
std::vector<FieldSpec> for_patch(std::vector<FieldSpec> specs) {
  for (auto& s : specs) s.required = false;
  return specs;
}


json merged(const EntityState& state, const json& patch) {
  json m = state.fields;
  for (const auto& [k, v] : patch.items()) m[k] = v;
  return m;
}

}  // namespace

bool allowed(const TransitionTable& table, const std::string& from, const std::string& to) {
  auto it = table.find(from);
  return it != table.end() && it->second.count(to) > 0;
}

Error invalid_transition(const std::string& kind, const std::string& from, const std::string& to) {
  const bool vowel = !kind.empty() && std::string("aeiou").find(kind[0]) != std::string::npos;
  return Error::of(ErrorCode::kInvalidTransition,
                   std::string(vowel ? "an " : "a ") + kind + " cannot go from " + from + " to " + to);
}

const std::vector<std::string>& job_statuses() { return kJobStatuses; }
const std::vector<std::string>& visit_statuses() { return kVisitStatuses; }
const std::vector<std::string>& priorities() { return kPriorities; }

const std::vector<FieldSpec>& client_fields() {
  static const std::vector<FieldSpec> f = {
      text("name", true, 200), {"email", FieldType::kEmail, false, true, 254},
      text("phone", false, 50), text("notes", false, 5000)};
  return f;
}

const std::vector<FieldSpec>& property_fields() {
  static const std::vector<FieldSpec> f = {text("address", true, 500), text("name", false, 200),
                                           text("city", false, 100), text("state", false, 100),
                                           text("zip", false, 20),   text("notes", false, 5000)};
  return f;
}

const std::vector<FieldSpec>& job_create_fields() {
  static const std::vector<FieldSpec> f = {
      uuid("client_id", true),
      uuid("property_id", false),
      text("title", true, 200),
      text("description", false, 5000),
      {"priority", FieldType::kEnum, false, false, 0, kPriorities},
      when("scheduled_start", false),
      when("scheduled_end", false)};
  return f;
}

const std::vector<FieldSpec>& job_patch_fields() {
  // The client of a job is fixed at creation; its property may change.
  static const std::vector<FieldSpec> f = for_patch(without(job_create_fields(), {"client_id"}));
  return f;
}

const std::vector<FieldSpec>& visit_create_fields() {
  static const std::vector<FieldSpec> f = {when("scheduled_start", true),
                                           when("scheduled_end", true),
                                           uuid("assigned_user_id", false),
                                           text("tech_notes", false, 5000)};
  return f;
}

const std::vector<FieldSpec>& visit_patch_fields() {
  static const std::vector<FieldSpec> f = for_patch(visit_create_fields());
  return f;
}

const std::vector<FieldSpec>& user_create_fields() {
  static const std::vector<FieldSpec> f = {
      {"email", FieldType::kEmail, true, false, 254},
      text("full_name", true, 200),
      {"role", FieldType::kEnum, true, false, 0, {"admin", "tech"}},
      {"password", FieldType::kPassword, true, false},
      text("phone", false, 50)};
  return f;
}

const std::vector<FieldSpec>& user_patch_fields() {
  static const std::vector<FieldSpec> f = for_patch(user_create_fields());
  return f;
}

const std::vector<FieldSpec>& transition_fields() {
  static const std::vector<FieldSpec> f = {{"status", FieldType::kText, true, false, 50}};
  return f;
}

const std::vector<FieldSpec>& visit_transition_fields() {
  static const std::vector<FieldSpec> f = {{"status", FieldType::kText, true, false, 50},
                                           text("tech_notes", false, 5000)};
  return f;
}

std::vector<Issue> check_schedule(const json& m, const char* start, const char* end) {
  const auto s = m.contains(start) && m[start].is_string()
                     ? parse_rfc3339(m[start].get<std::string>())
                     : std::nullopt;
  const auto e = m.contains(end) && m[end].is_string() ? parse_rfc3339(m[end].get<std::string>())
                                                       : std::nullopt;
  if (s && e && !(*s < *e)) return {{{end}, std::string("must be after ") + start}};
  return {};
}

Events update_events(const std::string& aggregate, const EntityState& state, const json& patch) {
  auto ev = updated_event(aggregate, state, patch);
  return ev.type.empty() ? Events{} : Events{ev};
}

// ------------------------------------------------------------------ jobs

bool job_transition_allowed(const std::string& from, const std::string& to) {
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

Result<Events> decide_job_transition(const EntityState& job, const std::string& to,
                                     bool invoice_references_job) {
  if (std::find(kJobStatuses.begin(), kJobStatuses.end(), to) == kJobStatuses.end()) {
    return Error::validation({{{"status"}, "is not a job status"}});
  }
  const std::string from = job.str("status");
  if (!job_transition_allowed(from, to)) return invalid_transition("job", from, to);
  if (to == "invoiced" && !invoice_references_job) {
    return Error::of(ErrorCode::kInvalidTransition,
                     "a job becomes invoiced only once an invoice references it");
  }
  return Events{status_event("Job", job, to)};
}

Result<Events> decide_job_patch(const EntityState& job, const json& patch) {
  if (job.str("status") == "invoiced") {
    return Error::of(ErrorCode::kImmutableEntity, "an invoiced job cannot be changed");
  }
  auto issues = check_schedule(merged(job, patch), "scheduled_start", "scheduled_end");
  if (!issues.empty()) return Error::validation(std::move(issues));
  return update_events("Job", job, patch);
}

Result<Events> decide_job_delete(const EntityState& job) {
  if (job.str("status") != "draft") {
    return Error::of(ErrorCode::kInvalidTransition, "only a draft job can be deleted");
  }
  return Events{deleted_event("Job", job)};
}

// ---------------------------------------------------------------- visits

bool visit_transition_allowed(const std::string& from, const std::string& to) {
  static const TransitionTable t = {
      {"scheduled", {"arrived", "cancelled"}},
      {"arrived", {"in_progress", "cancelled"}},
      {"in_progress", {"completed"}},
  };
  return allowed(t, from, to);
}

Result<Events> decide_visit_transition(const EntityState& visit, const std::string& to,
                                       const json& tech_notes, const std::string& now) {
  if (std::find(kVisitStatuses.begin(), kVisitStatuses.end(), to) == kVisitStatuses.end()) {
    return Error::validation({{{"status"}, "is not a visit status"}});
  }
  const std::string from = visit.str("status");
  if (!visit_transition_allowed(from, to)) return invalid_transition("visit", from, to);
  json changes = json::object();
  if (to == "arrived") {
    if (visit.str("assigned_user_id").empty()) {
      return Error::of(ErrorCode::kInvalidTransition, "a visit needs an assigned user to arrive");
    }
    changes["arrived_at"] = now;
  }
  if (to == "completed") changes["completed_at"] = now;
  if (!tech_notes.is_null()) changes["tech_notes"] = tech_notes;
  return Events{status_event("Visit", visit, to, std::move(changes))};
}

Result<Events> decide_visit_patch(const EntityState& visit, const json& patch) {
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
  return update_events("Visit", visit, patch);
}

// ----------------------------------------------------------------- users

Result<Events> decide_user_patch(const EntityState& user, const json& patch,
                                 const std::string& actor_role) {
  const bool target_is_owner = user.str("role") == "owner";
  if (target_is_owner && actor_role != "owner") {
    return Error::of(ErrorCode::kForbidden, "only the owner may change the owner");
  }
  if (target_is_owner && patch.contains("role")) {
    return Error::validation({{{"role"}, "the owner's role cannot change"}});
  }
  json fields = patch;
  fields.erase("password");  // secrets are not events; the caller stores the hash
  Events out = update_events("User", user, fields);
  // The change itself is recorded (who, when), never the password or its hash.
  if (patch.contains("password")) out.push_back({kUserPasswordChanged, json::object()});
  return out;
}

Result<Events> decide_user_delete(const EntityState& user, const std::string& actor_id,
                                  const std::string& target_id) {
  if (user.str("role") == "owner") {
    return Error::of(ErrorCode::kForbidden, "the owner cannot be removed");
  }
  if (actor_id == target_id) {
    return Error::of(ErrorCode::kForbidden, "you cannot remove yourself");
  }
  return Events{deleted_event("User", user)};
}

}  // namespace fsm::domain

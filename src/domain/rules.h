// The business rules of accounts, users, clients, properties, jobs and visits:
// which fields a body may carry, and which state changes are allowed. Pure:
// every input (current state, the caller's role, the time) is passed in.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "domain/entity.h"
#include "domain/validation.h"

namespace fsm::domain {

using Events = std::vector<DomainEvent>;

// A state machine: for each status, the statuses it may move to.
using TransitionTable = std::map<std::string, std::set<std::string>>;
bool allowed(const TransitionTable& table, const std::string& from, const std::string& to);
// INVALID_TRANSITION: "a job cannot go from draft to invoiced".
Error invalid_transition(const std::string& kind, const std::string& from, const std::string& to);

const std::vector<std::string>& job_statuses();
const std::vector<std::string>& visit_statuses();
const std::vector<std::string>& priorities();  // low, normal (the default), high, urgent

// Field specifications (create / patch) per resource.
const std::vector<FieldSpec>& client_fields();
const std::vector<FieldSpec>& property_fields();
const std::vector<FieldSpec>& job_create_fields();
const std::vector<FieldSpec>& job_patch_fields();
const std::vector<FieldSpec>& visit_create_fields();
const std::vector<FieldSpec>& visit_patch_fields();
const std::vector<FieldSpec>& user_create_fields();
const std::vector<FieldSpec>& user_patch_fields();
const std::vector<FieldSpec>& transition_fields();        // {status}
const std::vector<FieldSpec>& visit_transition_fields();  // {status, tech_notes?}

// ---- jobs
// draft → quoted | scheduled; quoted → scheduled | draft; scheduled → in_progress |
// cancelled; in_progress → completed | cancelled; completed → invoiced;
// cancelled → draft; invoiced is terminal.
bool job_transition_allowed(const std::string& from, const std::string& to);

// `invoice_references_job`: whether an invoice of the account names this job,
// the precondition of `invoiced`.
Result<Events> decide_job_transition(const EntityState& job, const std::string& to,
                                     bool invoice_references_job);
// `patch` is validated; scheduled_start/end are checked against the merged state.
Result<Events> decide_job_patch(const EntityState& job, const nlohmann::json& patch);
Result<Events> decide_job_delete(const EntityState& job);

// ---- visits
// scheduled → arrived | cancelled; arrived → in_progress | cancelled;
// in_progress → completed; completed and cancelled are terminal.
bool visit_transition_allowed(const std::string& from, const std::string& to);

// `now` is the command's time (RFC 3339), set as arrived_at / completed_at.
Result<Events> decide_visit_transition(const EntityState& visit, const std::string& to,
                                       const nlohmann::json& tech_notes, const std::string& now);
Result<Events> decide_visit_patch(const EntityState& visit, const nlohmann::json& patch);

// ---- users
// The owner is created with the account and is the only owner: nobody creates
// another, changes an owner's role, or removes the owner; admins may not touch
// the owner at all. `actor_role` is the caller's role.
Result<Events> decide_user_patch(const EntityState& user, const nlohmann::json& patch,
                                 const std::string& actor_role);
Result<Events> decide_user_delete(const EntityState& user, const std::string& actor_id,
                                  const std::string& target_id);

// ---- shared
// start < end when both are set (after merging `patch` into `state`).
std::vector<Issue> check_schedule(const nlohmann::json& merged, const char* start,
                                  const char* end);

// One UpdatedEvent for the patch (none when nothing changes).
Events update_events(const std::string& aggregate, const EntityState& state,
                     const nlohmann::json& patch);

}  // namespace fsm::domain

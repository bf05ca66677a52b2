// A visit: one scheduled trip to do a job, assigned to a user (a tech).
//
// scheduled → arrived | cancelled; arrived → in_progress | cancelled;
// in_progress → completed; completed and cancelled are terminal (their
// tech_notes may still change). A tech sees and acts on their own visits only,
// and may change tech_notes and move the status, nothing else.
#pragma once

#include "domain/aggregate.h"

namespace fsm::domain::visit {

inline constexpr Kind kKind{"visit", "Visit"};

const std::vector<std::string>& statuses();
const std::vector<FieldSpec>& create_fields();
const std::vector<FieldSpec>& patch_fields();
const std::vector<FieldSpec>& transition_fields();  // {status, tech_notes?}
bool transition_allowed(const std::string& from, const std::string& to);

// Whether the caller (role, user id) may see this visit at all.
bool visible_to(const EntityState& visit, const std::string& role, const std::string& user_id);
// The open statuses: a user with such a visit is not removed.
const std::vector<std::string>& open_statuses();

// `job_id` comes from the path: NOT_FOUND when the account has no such job,
// IMMUTABLE_ENTITY when it is invoiced.
Result<Creation> create(const nlohmann::json& fields, const std::string& job_id,
                        const std::string& account_id);
// FORBIDDEN for a tech changing anything but tech_notes.
Result<Events> patch(const EntityState& visit, const nlohmann::json& patch,
                     const std::string& actor_role);
std::vector<Reference> patch_references(const nlohmann::json& patch);
// `now` (RFC 3339) becomes arrived_at / completed_at.
Result<Events> transition(const EntityState& visit, const std::string& to,
                          const nlohmann::json& tech_notes, const std::string& now);

}  // namespace fsm::domain::visit

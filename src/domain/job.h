// A job: a piece of work for a client, at one of its properties.
//
// draft → quoted | scheduled; quoted → scheduled | draft; scheduled →
// in_progress | cancelled; in_progress → completed | cancelled; completed →
// invoiced (only once an invoice names it); cancelled → draft; invoiced is
// terminal and immutable. Only a draft job without visits is deleted.
#pragma once

#include "domain/aggregate.h"

namespace fsm::domain::job {

inline constexpr Kind kKind{"job", "Job"};

const std::vector<std::string>& statuses();
const std::vector<std::string>& priorities();  // low, normal (the default), high, urgent
const std::vector<FieldSpec>& create_fields();
const std::vector<FieldSpec>& patch_fields();  // the client is fixed at creation
bool transition_allowed(const std::string& from, const std::string& to);

// `fields` validated by create_fields(): status draft, priority normal by
// default; its client, and its property (which must be the client's).
Result<Creation> create(const nlohmann::json& fields, const std::string& account_id);
Result<Events> patch(const EntityState& job, const nlohmann::json& patch);
// What a patch relies on: a new property must be one of the job's client's.
std::vector<Reference> patch_references(const EntityState& job, const nlohmann::json& patch);
// `invoiced`: whether the answer to invoicing() holds (an invoice names the job).
Result<Events> transition(const EntityState& job, const std::string& to, bool invoiced);
// The fact `transition` to "invoiced" needs: a non-void invoice names the job.
Relation invoicing();
Result<Events> remove(const EntityState& job);
const std::vector<Blocker>& remove_blockers();

}  // namespace fsm::domain::job

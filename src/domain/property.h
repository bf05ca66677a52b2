// A property: a place where a client's work happens. It belongs to one
// client for life; deleting it is refused while jobs name it.
#pragma once

#include "domain/aggregate.h"

namespace fsm::domain::property {

inline constexpr Kind kKind{"property", "Property"};

const std::vector<FieldSpec>& fields();  // create; a PATCH takes any of them

// `client_id` comes from the path; NOT_FOUND when it is not a client of the account.
Creation create(const nlohmann::json& fields, const std::string& client_id,
                const std::string& account_id);
Result<Events> patch(const EntityState& property, const nlohmann::json& patch);
Result<Events> remove(const EntityState& property);
const std::vector<Blocker>& remove_blockers();

}  // namespace fsm::domain::property

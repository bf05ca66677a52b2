// A client: a customer of the account. Deleting one takes its properties
// with it; it is refused while jobs, estimates or invoices name it.
#pragma once

#include "domain/aggregate.h"

namespace fsm::domain::client {

inline constexpr Kind kKind{"client", "Client"};

const std::vector<FieldSpec>& fields();  // create; a PATCH takes any of them

Creation create(const nlohmann::json& fields, const std::string& account_id);
Result<Events> patch(const EntityState& client, const nlohmann::json& patch);
Result<Events> remove(const EntityState& client);
// What must be gone before a client is deleted.
const std::vector<Blocker>& remove_blockers();
// What is deleted with it (each by its own aggregate's `remove`).
Relation owned_properties();

}  // namespace fsm::domain::client

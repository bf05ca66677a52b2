// An account: one tenant, created with its owner.
#pragma once

#include "domain/aggregate.h"

namespace fsm::domain::account {

inline constexpr Kind kKind{"account", "Account"};

// {name, owner_email, owner_name, password}
const std::vector<FieldSpec>& create_fields();
// The account's creation event (its owner is user::create_owner).
DomainEvent create(const std::string& name, const std::string& account_id);

}  // namespace fsm::domain::account

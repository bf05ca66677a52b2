// A user: a person of the account with a role (owner, admin, tech).
//
// The owner is created with the account and is the only owner: nobody
// creates another, changes an owner's role, or removes the owner; admins may
// not touch the owner at all; nobody removes themselves, nor a user with open
// visits. Passwords are not events: the log records that one changed (who,
// when), the hash lives next to the log.
#pragma once

#include "domain/aggregate.h"

namespace fsm::domain::user {

inline constexpr Kind kKind{"user", "User"};

const std::vector<std::string>& roles();  // owner, admin, tech
const std::vector<FieldSpec>& create_fields();
const std::vector<FieldSpec>& patch_fields();

// `fields` validated by create_fields(), password removed (the caller hashes
// and stores it).
Creation create(const nlohmann::json& fields, const std::string& account_id);
// The account's first user.
DomainEvent create_owner(const std::string& email, const std::string& full_name,
                         const std::string& account_id);
// `patch` may hold `password` (recorded as UserPasswordChanged, never its value).
Result<Events> patch(const EntityState& user, const nlohmann::json& patch,
                     const std::string& actor_role);
Result<Events> remove(const EntityState& user, const std::string& actor_id,
                      const std::string& target_id);
const std::vector<Blocker>& remove_blockers();

}  // namespace fsm::domain::user

#include "domain/user.h"

#include "domain/visit.h"

namespace fsm::domain::user {

using nlohmann::json;

const std::vector<std::string>& roles() {
  static const std::vector<std::string> r = {"owner", "admin", "tech"};
  return r;
}

const std::vector<FieldSpec>& create_fields() {
  static const std::vector<FieldSpec> f = {{"email", FieldType::kEmail, true, false, 254},
                                           text_field("full_name", true, 200),
                                           enum_field("role", {"admin", "tech"}, true),
                                           {"password", FieldType::kPassword, true, false},
                                           text_field("phone", false, 50)};
  return f;
}

const std::vector<FieldSpec>& patch_fields() {
  static const std::vector<FieldSpec> f = for_patch(create_fields());
  return f;
}

Creation create(const json& fields, const std::string& account_id) {
  // The email's uniqueness in the account is the users table's index.
  return {created(kKind, fields, account_id), {}};
}

DomainEvent create_owner(const std::string& email, const std::string& full_name,
                         const std::string& account_id) {
  return created(
      kKind, {{"email", email}, {"full_name", full_name}, {"role", "owner"}, {"phone", nullptr}},
      account_id);
}

Result<Events> patch(const EntityState& user, const json& patch, const std::string& actor_role) {
  const bool target_is_owner = user.str("role") == "owner";
  if (target_is_owner && actor_role != "owner") {
    return Error::of(ErrorCode::kForbidden, "only the owner may change the owner");
  }
  if (target_is_owner && patch.contains("role")) {
    return Error::validation({{{"role"}, "the owner's role cannot change"}});
  }
  json fields = patch;
  fields.erase("password");  // secrets are not events; the caller stores the hash
  Events out = update_events(kKind, user, fields);
  // The change itself is recorded (who, when), never the password or its hash.
  if (patch.contains("password")) out.push_back({kUserPasswordChanged, json::object()});
  return out;
}

Result<Events> remove(const EntityState& user, const std::string& actor_id,
                      const std::string& target_id) {
  if (user.str("role") == "owner") {
    return Error::of(ErrorCode::kForbidden, "the owner cannot be removed");
  }
  if (actor_id == target_id) {
    return Error::of(ErrorCode::kForbidden, "you cannot remove yourself");
  }
  return Events{deleted_event(kKind.name, user)};
}

const std::vector<Blocker>& remove_blockers() {
  // Visits share-lock their assignee's stream, which the command holds: no
  // visit can be assigned to the user while this is checked.
  static const std::vector<Blocker> b = {
      {{"visit", "assigned_user_id", visit::open_statuses()},
       Error::of(ErrorCode::kConflict,
                 "the user still has open visits; reassign or cancel them first")}};
  return b;
}

}  // namespace fsm::domain::user

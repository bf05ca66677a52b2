// /api/v1/users: the account's people. Passwords are hashed before the
// command runs (Argon2id is slow on purpose) and stored next to the log, never
// in it; the log records that a password changed, and who changed it.
#include "common/uuid.h"
#include "domain/rules.h"
#include "events/pg_auth_store.h"
#include "http/resources.h"

namespace fsm::http {
namespace {

const ListOptions kUserList = {
    {"email", "full_name", "role", "created_at", "updated_at"},
    {{{"role", domain::FieldType::kEnum, false, false, 0, {"owner", "admin", "tech"}}}}};

// The user's password hash, when the body sets one (hashed outside any
// transaction), and the body without it.
std::optional<std::string> take_password(nlohmann::json& fields,
                                         commands::PasswordHasher& hasher) {
  auto it = fields.find("password");
  if (it == fields.end() || !it->is_string()) return std::nullopt;
  std::string hash = hasher.hash(it->get<std::string>());
  fields.erase(it);
  return hash;
}

}  // namespace

Response Resources::create_user(const Request& req) {
  auto who = caller(req, kOffice);
  if (auto* r = std::get_if<Response>(&who)) return *r;
  const auto& actor = std::get<commands::Actor>(who);
  auto body = domain::parse_json_object(req.body);
  if (!body) return error_response(body.error(), req.request_id);
  auto fields = domain::validate_body(*body, domain::user_create_fields(), domain::Mode::kCreate);
  if (!fields) return error_response(fields.error(), req.request_id);
  const std::string hash = *take_password(fields.value(), hasher_);
  fields.value()["account_id"] = actor.account_id;

  commands::Command cmd;
  cmd.stream_id = new_uuid();
  cmd.stream_type = "user";
  cmd.creates = true;
  cmd.decide = [&](const domain::EntityState&, pqxx::work&) -> Result<domain::Events> {
    return domain::Events{{"UserCreated", *fields}};
  };
  // The email's uniqueness in the account is enforced by the users table's
  // index in this transaction: a duplicate is a 409 and stores nothing.
  cmd.after = [&](pqxx::work& tx, const auto&) {
    events::PgAuthStore::set_password(tx, cmd.stream_id, hash);
  };
  return run_and_answer(req, actor, cmd, 201);
}

Response Resources::patch_user(const Request& req) {
  auto t = target(req, kOffice);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto body = domain::parse_json_object(req.body);
  if (!body) return error_response(body.error(), req.request_id);
  auto patch = domain::validate_body(*body, domain::user_patch_fields(), domain::Mode::kPatch);
  if (!patch) return error_response(patch.error(), req.request_id);
  nlohmann::json changes = *patch;
  const auto hash = take_password(changes, hasher_);

  auto cmd = std::get<Target>(t).command("user");
  cmd.decide = [&](const domain::EntityState& s, pqxx::work&) {
    return domain::decide_user_patch(s, *patch, actor.role);
  };
  cmd.after = [&](pqxx::work& tx, const auto&) {
    if (!hash) return;
    // A new password ends every session opened with the old one.
    events::PgAuthStore::set_password(tx, id, *hash);
    events::PgAuthStore::revoke_user_sessions(tx, id);
  };
  auto res = run_and_answer(req, actor, cmd, 200);
  auth_.forget_user(id);  // role, name or password may have changed: no cached session
  return res;
}

Response Resources::delete_user(const Request& req) {
  auto t = target(req, kOwner);
  if (auto* r = std::get_if<Response>(&t)) return *r;
  const auto& [actor, id, if_match] = std::get<Target>(t);
  auto cmd = std::get<Target>(t).command("user");
  cmd.decide = [&](const domain::EntityState& s, pqxx::work& tx) -> Result<domain::Events> {
    // Visits share-lock their assignee's stream, which this command holds:
    // no visit can be assigned to the user while this check runs.
    auto open = tx.exec_params(
        "SELECT 1 FROM visits WHERE account_id = $1::uuid AND assigned_user_id = $2::uuid"
        " AND status IN ('scheduled', 'arrived', 'in_progress') LIMIT 1",
        actor.account_id, id);
    if (!open.empty()) {
      return Error::of(ErrorCode::kConflict,
                       "the user still has open visits; reassign or cancel them first");
    }
    return domain::decide_user_delete(s, actor.user_id, id);
  };
  cmd.after = [&](pqxx::work& tx, const auto&) { events::PgAuthStore::forget_user(tx, id); };
  auto res = run_and_answer(req, actor, cmd, 204);
  auth_.forget_user(id);
  return res;
}

void Resources::register_user_routes(Router& router) {
  add(router, Method::kGet, "/api/v1/users",
      [this](const Request& r) { return list(r, "user", kOffice, kUserList); });
  add_post(router, "/api/v1/users", [this](const Request& r) { return create_user(r); });
  add(router, Method::kGet, "/api/v1/users/:id",
      [this](const Request& r) { return get(r, "user", kOffice); });
  add(router, Method::kPatch, "/api/v1/users/:id",
      [this](const Request& r) { return patch_user(r); });
  add(router, Method::kDelete, "/api/v1/users/:id",
      [this](const Request& r) { return delete_user(r); });
}

}  // namespace fsm::http

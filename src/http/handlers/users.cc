// /api/v1/users: the account's people (domain/user.h). Passwords are hashed
// before the command runs (Argon2id is slow on purpose), outside any
// transaction, and stored next to the log, never in it.
#include "domain/user.h"
#include "http/api.h"

namespace fsm::http {

using domain::Mode;
namespace {

// The hash of the password `fields` set, if any.
std::optional<std::string> hash_password(const nlohmann::json& fields,
                                         commands::PasswordHasher& hasher) {
  auto it = fields.find("password");
  if (it == fields.end() || !it->is_string()) return std::nullopt;
  return hasher.hash(it->get<std::string>());
}

}  // namespace

void user_routes(Api& api) {
  static const ListOptions kList = {{"email", "full_name", "role", "created_at", "updated_at"},
                                    {{domain::enum_field("role", domain::user::roles())}}};
  const std::string type = domain::user::kKind.stream_type;
  api.get("/api/v1/users", kOffice,
          [&api, type](const Call& c) { return api.list(c, type, kList); });
  api.post("/api/v1/users", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto fields, c.body(domain::user::create_fields(), Mode::kCreate));
    const std::string hash = *hash_password(fields, api.hasher());
    fields.erase("password");
    return api.answer(c, commands::user::create(c.ctx(), fields, hash), type, 201);
  });
  api.get("/api/v1/users/:id", kOffice, [&api, type](const Call& c) { return api.read(c, type); });
  api.patch("/api/v1/users/:id", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto patch, c.body(domain::user::patch_fields(), Mode::kPatch));
    const auto hash = hash_password(patch, api.hasher());
    auto res = api.answer(c, commands::user::patch(c.ctx(), target, patch, hash), type, 200);
    api.auth().forget_user(target.id);  // role, name or password may have changed
    return res;
  });
  api.del("/api/v1/users/:id", kOwner, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    auto res = api.answer(c, commands::user::remove(c.ctx(), target), type, 204);
    api.auth().forget_user(target.id);
    return res;
  });
}

}  // namespace fsm::http

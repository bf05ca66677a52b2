#include "commands/accounts.h"

#include "commands/command_runner.h"
#include "common/uuid.h"
#include "domain/validation.h"
#include "events/pg_auth_store.h"

namespace fsm::commands {

Result<CreatedAccount> create_account(events::PgPool& pool, PasswordHasher& hasher,
                                      const NewAccount& input, const std::string& trace_id) {
  using domain::FieldSpec;
  using domain::FieldType;
  static const std::vector<FieldSpec> specs = {
      {"name", FieldType::kText, true, false, 200},
      {"owner_email", FieldType::kEmail, true, false, 254},
      {"owner_name", FieldType::kText, true, false, 200},
      {"password", FieldType::kPassword, true, false}};
  auto fields = domain::validate_body({{"name", input.name},
                                       {"owner_email", input.owner_email},
                                       {"owner_name", input.owner_name},
                                       {"password", input.password}},
                                      specs, domain::Mode::kCreate);
  if (!fields) return fields.error();

  const std::string password_hash = hasher.hash(input.password);  // before any transaction
  CreatedAccount created{new_uuid(), new_uuid()};
  Actor actor{created.account_id, "", "system", trace_id};
  int calls = 0;
  pool.run([&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    ++calls;
    const auto account = append_and_project(
        tx, actor, created.account_id, "account", 0,
        {{"AccountCreated",
          {{"account_id", created.account_id}, {"name", (*fields)["name"]}}}});
    const auto owner = append_and_project(
        tx, actor, created.owner_id, "user", 0,
        {{"UserCreated",
          {{"account_id", created.account_id},
           {"email", (*fields)["owner_email"]},
           {"full_name", (*fields)["owner_name"]},
           {"role", "owner"},
           {"phone", nullptr}}}});
    if (!account || !owner) {
      // Fresh ids collide with nothing but an earlier attempt of this call
      // that the pool repeated: its COMMIT was sent, its answer lost, and the
      // whole account committed.
      if (calls > 1 && load(tx, created.account_id).exists) return;
      throw std::logic_error("fresh ids collided");
    }
    events::PgAuthStore::set_password(tx, created.owner_id, password_hash);
    tx.commit();
  });
  return created;
}

}  // namespace fsm::commands

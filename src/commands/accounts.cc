#include "commands/accounts.h"

#include "commands/command_runner.h"
#include "common/uuid.h"
#include "domain/account.h"
#include "domain/user.h"
#include "events/pg_auth_store.h"

namespace fsm::commands {

namespace {

bool any_account(pqxx::transaction_base& tx) {
  return tx.exec1("SELECT EXISTS (SELECT 1 FROM accounts)")[0].as<bool>();
}

Result<std::optional<CreatedAccount>> create(events::PgPool& pool, PasswordHasher& hasher,
                                             const NewAccount& input, const std::string& trace_id,
                                             bool first_only) {
  // Once an account exists, a first start has nothing to do, whatever its
  // settings say (a password left in .env that no longer passes, say).
  if (first_only && pool.run([](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        return any_account(tx);
      })) {
    return std::optional<CreatedAccount>{};
  }
  auto fields = domain::validate_body({{"name", input.name},
                                       {"owner_email", input.owner_email},
                                       {"owner_name", input.owner_name},
                                       {"password", input.password}},
                                      domain::account::create_fields(), domain::Mode::kCreate);
  if (!fields) return fields.error();

  const std::string password_hash = hasher.hash(input.password);  // before any transaction
  CreatedAccount created{new_uuid(), new_uuid()};
  Actor actor{created.account_id, "", "system", trace_id};
  int calls = 0;
  bool skipped = false;
  pool.run([&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    ++calls;
    skipped = false;
    if (first_only) {
      // Serialises first starts; each then sees the others' commits.
      tx.exec("SELECT pg_advisory_xact_lock(hashtext('fsm:first-account'))");
      if (any_account(tx)) {
        // Ours if an earlier attempt of this call committed it (the pool
        // repeats a call whose COMMIT went unanswered); else someone's.
        skipped = !(calls > 1 && load(tx, created.account_id).exists);
        return;
      }
    }
    const auto account =
        append_and_project(tx, actor, created.account_id, domain::account::kKind.stream_type, 0,
                           {domain::account::create((*fields)["name"], created.account_id)});
    const auto owner = append_and_project(
        tx, actor, created.owner_id, domain::user::kKind.stream_type, 0,
        {domain::user::create_owner((*fields)["owner_email"], (*fields)["owner_name"],
                                    created.account_id)});
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
  if (skipped) return std::optional<CreatedAccount>{};
  return std::optional<CreatedAccount>{created};
}

}  // namespace

Result<CreatedAccount> create_account(events::PgPool& pool, PasswordHasher& hasher,
                                      const NewAccount& input, const std::string& trace_id) {
  auto created = create(pool, hasher, input, trace_id, false);
  if (!created) return created.error();
  return **created;
}

Result<std::optional<CreatedAccount>> create_first_account(events::PgPool& pool,
                                                           PasswordHasher& hasher,
                                                           const NewAccount& input,
                                                           const std::string& trace_id) {
  return create(pool, hasher, input, trace_id, true);
}

}  // namespace fsm::commands

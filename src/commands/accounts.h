// Creating an account with its owner: the account's and the owner's creation
// events and the owner's credentials, in one transaction.
#pragma once

#include <optional>
#include <string>

#include "commands/passwords.h"
#include "domain/result.h"
#include "events/pg_pool.h"

namespace fsm::commands {

struct NewAccount {
  std::string name;
  std::string owner_email;
  std::string owner_name;
  std::string password;
};

struct CreatedAccount {
  std::string account_id;
  std::string owner_id;
};

Result<CreatedAccount> create_account(events::PgPool& pool, PasswordHasher& hasher,
                                      const NewAccount& input, const std::string& trace_id);

// A deployment's first start (`fsmctl account create --first`): creates the
// account only while the database holds none, and answers an empty optional
// once one exists. Concurrent calls create one account between them.
Result<std::optional<CreatedAccount>> create_first_account(events::PgPool& pool,
                                                           PasswordHasher& hasher,
                                                           const NewAccount& input,
                                                           const std::string& trace_id);

}  // namespace fsm::commands

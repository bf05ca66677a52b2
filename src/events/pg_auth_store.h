// Credentials and sessions: operational state next to the log, never events
// (the log is readable by owners and admins; a token or hash must not be).
#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/time.h"

namespace fsm::events {

struct LoginCandidate {
  std::string user_id, account_id, email, full_name, role, password_hash;
};

struct SessionUser {
  std::string user_id, account_id, email, full_name, role;
  Timestamp expires_at{};  // the session's
};

class PgAuthStore {
 public:
  static void prepare(pqxx::connection& conn);

  // Every user with this email (one per account) that has a password.
  static std::vector<LoginCandidate> find_login(pqxx::transaction_base& tx,
                                                const std::string& email);
  static void set_password(pqxx::transaction_base& tx, const std::string& user_id,
                           const std::string& password_hash);
  // `token_hash_hex`: SHA-256 of the token, hex. The token itself is never stored.
  static void create_session(pqxx::transaction_base& tx, const std::string& token_hash_hex,
                             const std::string& user_id, const std::string& account_id,
                             Timestamp expires_at);
  // The session's user, if the session exists, is neither revoked nor expired,
  // and the user still exists.
  static std::optional<SessionUser> find_session(pqxx::transaction_base& tx,
                                                 const std::string& token_hash_hex);
  static void revoke_session(pqxx::transaction_base& tx, const std::string& token_hash_hex);
  // Every open session of the user (after a password change).
  static void revoke_user_sessions(pqxx::transaction_base& tx, const std::string& user_id);
  // A removed user: sessions revoked, password hash deleted.
  static void forget_user(pqxx::transaction_base& tx, const std::string& user_id);
};

}  // namespace fsm::events

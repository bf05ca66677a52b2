#include "events/pg_auth_store.h"

namespace fsm::events {

void PgAuthStore::prepare(pqxx::connection& conn) {
  conn.prepare("fsm_auth_find_login",
               "SELECT u.id::text AS user_id_text, u.account_id::text AS account_id_text, u.email,"
               " u.full_name, u.role, c.password_hash FROM users u"
               " JOIN credentials c ON c.user_id = u.id WHERE lower(u.email) = lower($1)"
               " ORDER BY u.created_at");
  conn.prepare("fsm_auth_set_password",
               "INSERT INTO credentials (user_id, password_hash, updated_at)"
               " VALUES ($1::uuid, $2, now()) ON CONFLICT (user_id) DO UPDATE"
               " SET password_hash = EXCLUDED.password_hash, updated_at = now()");
  conn.prepare("fsm_auth_create_session",
               "INSERT INTO sessions (token_hash, user_id, account_id, expires_at)"
               " VALUES (decode($1, 'hex'), $2::uuid, $3::uuid, to_timestamp($4::bigint / 1e6))");
  conn.prepare("fsm_auth_find_session",
               "SELECT u.id::text AS user_id_text, u.account_id::text AS account_id_text, u.email,"
               " u.full_name, u.role, (extract(epoch FROM s.expires_at) * 1e6)::bigint"
               " FROM sessions s JOIN users u ON u.id = s.user_id"
               " WHERE s.token_hash = decode($1, 'hex') AND s.revoked_at IS NULL"
               " AND s.expires_at > now()");
  conn.prepare("fsm_auth_revoke_user_sessions",
               "UPDATE sessions SET revoked_at = now() WHERE user_id = $1::uuid"
               " AND revoked_at IS NULL");
  conn.prepare("fsm_auth_forget_user", "DELETE FROM credentials WHERE user_id = $1::uuid");
  conn.prepare("fsm_auth_revoke_session",
               "UPDATE sessions SET revoked_at = now() WHERE token_hash = decode($1, 'hex')"
               " AND revoked_at IS NULL");
}

std::vector<LoginCandidate> PgAuthStore::find_login(pqxx::transaction_base& tx,
                                                    const std::string& email) {
  std::vector<LoginCandidate> out;
  for (const auto& r : tx.exec_prepared("fsm_auth_find_login", email)) {
    out.push_back({r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(), r[4].c_str(),
                   r[5].c_str()});
  }
  return out;
}

void PgAuthStore::set_password(pqxx::transaction_base& tx, const std::string& user_id,
                               const std::string& password_hash) {
  tx.exec_prepared("fsm_auth_set_password", user_id, password_hash);
}

void PgAuthStore::create_session(pqxx::transaction_base& tx, const std::string& token_hash_hex,
                                 const std::string& user_id, const std::string& account_id,
                                 Timestamp expires_at) {
  tx.exec_prepared("fsm_auth_create_session", token_hash_hex, user_id, account_id,
                   to_unix_micros(expires_at));
}

std::optional<SessionUser> PgAuthStore::find_session(pqxx::transaction_base& tx,
                                                     const std::string& token_hash_hex) {
  auto r = tx.exec_prepared("fsm_auth_find_session", token_hash_hex);
  if (r.empty()) return std::nullopt;
  return SessionUser{r[0][0].c_str(), r[0][1].c_str(), r[0][2].c_str(),
                     r[0][3].c_str(), r[0][4].c_str(), from_unix_micros(r[0][5].as<std::int64_t>())};
}

void PgAuthStore::revoke_session(pqxx::transaction_base& tx, const std::string& token_hash_hex) {
  tx.exec_prepared("fsm_auth_revoke_session", token_hash_hex);
}

void PgAuthStore::revoke_user_sessions(pqxx::transaction_base& tx, const std::string& user_id) {
  tx.exec_prepared("fsm_auth_revoke_user_sessions", user_id);
}

void PgAuthStore::forget_user(pqxx::transaction_base& tx, const std::string& user_id) {
  tx.exec_prepared("fsm_auth_revoke_user_sessions", user_id);
  tx.exec_prepared("fsm_auth_forget_user", user_id);
}

}  // namespace fsm::events

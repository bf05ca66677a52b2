#include "events/pg_idempotency_store.h"

namespace fsm::events {

void PgIdempotencyStore::prepare(pqxx::connection& conn) {
  conn.prepare("fsm_idem_expire",
               "DELETE FROM idempotency_keys WHERE user_id = $1::uuid AND key = $2"
               " AND created_at < now() - interval '24 hours'");
  conn.prepare("fsm_idem_claim",
               "INSERT INTO idempotency_keys (user_id, key, request_hash, state, claim)"
               " VALUES ($1::uuid, $2, decode($3, 'hex'), 'in_flight', $4::uuid)"
               " ON CONFLICT (user_id, key) DO NOTHING");
  conn.prepare("fsm_idem_find",
               "SELECT encode(request_hash, 'hex'), state, coalesce(response_status, 0),"
               " coalesce(response_body, '') FROM idempotency_keys"
               " WHERE user_id = $1::uuid AND key = $2");
  conn.prepare("fsm_idem_take_over",
               "UPDATE idempotency_keys SET claim = $3::uuid, claimed_at = now()"
               " WHERE user_id = $1::uuid AND key = $2 AND state = 'in_flight'"
               " AND claimed_at < now() - make_interval(secs => $4::int)");
  conn.prepare("fsm_idem_commit",
               "UPDATE idempotency_keys SET state = 'committed' WHERE user_id = $1::uuid"
               " AND key = $2 AND claim = $3::uuid AND state = 'in_flight'");
  conn.prepare("fsm_idem_finish",
               "UPDATE idempotency_keys SET state = 'done', response_status = $4::int,"
               " response_body = $5 WHERE user_id = $1::uuid AND key = $2 AND claim = $3::uuid");
  conn.prepare("fsm_idem_release",
               "DELETE FROM idempotency_keys WHERE user_id = $1::uuid AND key = $2"
               " AND claim = $3::uuid AND state = 'in_flight'");
  conn.prepare("fsm_idem_purge",
               "DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'");
}

bool PgIdempotencyStore::claim(pqxx::transaction_base& tx, const std::string& user_id,
                               const std::string& key, const std::string& request_hash_hex,
                               const std::string& claim_id) {
  tx.exec_prepared("fsm_idem_expire", user_id, key);
  return tx.exec_prepared("fsm_idem_claim", user_id, key, request_hash_hex, claim_id)
             .affected_rows() == 1;
}

std::optional<IdempotencyRecord> PgIdempotencyStore::find(pqxx::transaction_base& tx,
                                                          const std::string& user_id,
                                                          const std::string& key) {
  auto r = tx.exec_prepared("fsm_idem_find", user_id, key);
  if (r.empty()) return std::nullopt;
  return IdempotencyRecord{r[0][0].c_str(), r[0][1].c_str(), r[0][2].as<int>(), r[0][3].c_str()};
}

bool PgIdempotencyStore::take_over(pqxx::transaction_base& tx, const std::string& user_id,
                                   const std::string& key, const std::string& claim_id,
                                   int lease_seconds) {
  return tx.exec_prepared("fsm_idem_take_over", user_id, key, claim_id, lease_seconds)
             .affected_rows() == 1;
}

bool PgIdempotencyStore::mark_committed(pqxx::transaction_base& tx, const std::string& user_id,
                                        const std::string& key, const std::string& claim_id) {
  return tx.exec_prepared("fsm_idem_commit", user_id, key, claim_id).affected_rows() == 1;
}

void PgIdempotencyStore::finish(pqxx::transaction_base& tx, const std::string& user_id,
                                const std::string& key, const std::string& claim_id, int status,
                                const std::string& body) {
  tx.exec_prepared("fsm_idem_finish", user_id, key, claim_id, status, body);
}

void PgIdempotencyStore::release(pqxx::transaction_base& tx, const std::string& user_id,
                                 const std::string& key, const std::string& claim_id) {
  tx.exec_prepared("fsm_idem_release", user_id, key, claim_id);
}

void PgIdempotencyStore::purge(pqxx::transaction_base& tx) { tx.exec_prepared("fsm_idem_purge"); }

}  // namespace fsm::events

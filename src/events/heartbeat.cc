#include "events/heartbeat.h"

namespace fsm::events {

void record_heartbeat(pqxx::transaction_base& tx, const std::string& instance, int poll_ms,
                      const nlohmann::json& summary) {
  tx.exec_params(
      "INSERT INTO worker_heartbeats (instance, poll_ms, started_at, last_pass_at, last_pass) "
      "VALUES ($1, $2, now(), now(), $3::jsonb) "
      "ON CONFLICT (instance) DO UPDATE SET poll_ms = EXCLUDED.poll_ms, "
      "last_pass_at = EXCLUDED.last_pass_at, last_pass = EXCLUDED.last_pass",
      instance, poll_ms, summary.dump());
  tx.exec("DELETE FROM worker_heartbeats WHERE last_pass_at < now() - interval '7 days'");
}

std::int64_t purge_expired_state(pqxx::transaction_base& tx) {
  const auto sessions = tx.exec(
      "DELETE FROM sessions WHERE expires_at < now() OR revoked_at < now() - interval '1 hour'");
  const auto keys =
      tx.exec("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'");
  return sessions.affected_rows() + keys.affected_rows();
}

bool worker_alive(pqxx::transaction_base& tx) {
  return tx.exec1(kWorkerAliveSql)[0].as<bool>();
}

}  // namespace fsm::events

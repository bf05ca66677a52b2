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

bool worker_alive(pqxx::transaction_base& tx) {
  return tx.exec1(kWorkerAliveSql)[0].as<bool>();
}

}  // namespace fsm::events

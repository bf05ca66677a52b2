// The worker's heartbeat, for /api/health (`checks.worker`) and
// `fsm-worker --health`: one row per worker process in `worker_heartbeats`,
// written after every pass. Operational state, not a projection: nothing in
// the log rebuilds it, and a rebuild does not touch it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>

namespace fsm::events {

// Records that `instance` (host:pid) completed a pass just now (the
// database's clock), with its poll interval and the pass's summary. Rows of
// processes silent for 7 days are removed, so the table stays small.
void record_heartbeat(pqxx::transaction_base& tx, const std::string& instance, int poll_ms,
                      const nlohmann::json& summary);

// SQL answering one boolean: whether some worker completed a pass within 3
// of its poll intervals (false when none ever ran).
inline constexpr const char* kWorkerAliveSql =
    "SELECT coalesce(bool_or(now() - last_pass_at <= 3 * poll_ms * interval '1 millisecond'), "
    "false) FROM worker_heartbeats";

bool worker_alive(pqxx::transaction_base& tx);

// What grows outside the log, cleaned after each pass: sessions past their
// expiry or revoked over an hour ago, and Idempotency-Key records past the
// 24 hours in which a retry may replay them (fsm-web also purges those, but
// only while requests arrive). Returns the rows removed.
std::int64_t purge_expired_state(pqxx::transaction_base& tx);

}  // namespace fsm::events

// Idempotency-Key on POST: the same key from the same user within 24 hours
// with the same request replays the first response (Idempotent-Replayed:
// true) and runs nothing; another request under that key is 422
// IDEMPOTENCY_KEY_REUSED; a duplicate while the first is still running is 409.
// Exactly-once holds across crashes: see events/pg_idempotency_store.h.
#pragma once

#include <atomic>
#include <functional>

#include "events/pg_pool.h"
#include "http/types.h"

namespace fsm::http {

struct IdempotencyConfig {
  // How long an unfinished request keeps its key before a retry may take it
  // over (FSM_IDEMPOTENCY_LEASE_SECONDS).
  int lease_seconds = 60;
  static IdempotencyConfig from_env();
};

class Idempotency {
 public:
  Idempotency(events::PgPool& pool, IdempotencyConfig config);

  // Runs `inner` for the request of the authenticated user `user_id`, or
  // answers for it under the request's Idempotency-Key. `inner` gets the
  // request with the key's claim (idempotency_key, idempotency_claim).
  Response handle(const Request& req, const std::string& user_id,
                  const std::function<Response(const Request&)>& inner);

 private:
  events::PgPool& pool_;
  IdempotencyConfig config_;
  std::atomic<unsigned> claims_{0};
};

// The request's Idempotency-Key: nullopt when it sent none; a
// VALIDATION_ERROR when it is not 1 to 255 visible ASCII characters or when
// the header comes more than once (which one would count is anybody's guess).
Result<std::optional<std::string>> idempotency_key_of(const Request& req);

// The request's fingerprint under a key: method, path and body.
std::string request_fingerprint(const Request& req);

}  // namespace fsm::http

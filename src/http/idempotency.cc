#include "http/idempotency.h"

#include "common/env.h"
#include "common/log.h"
#include "common/uuid.h"
#include "events/pg_idempotency_store.h"

namespace fsm::http {
namespace {

using Store = events::PgIdempotencyStore;

// Keys are opaque to us; visible ASCII keeps them loggable and unambiguous.
bool valid_key(const std::string& key) {
  if (key.empty() || key.size() > 255) return false;
  for (unsigned char c : key) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

constexpr unsigned kPurgeEvery = 256;  // claims between sweeps of expired keys

enum class Next { kRun, kReplay, kReused, kInFlight, kUnrecorded };

}  // namespace

IdempotencyConfig IdempotencyConfig::from_env() {
  IdempotencyConfig c;
  c.lease_seconds =
      static_cast<int>(env::get_int("FSM_IDEMPOTENCY_LEASE_SECONDS", c.lease_seconds, 1, 86400));
  return c;
}

std::string request_fingerprint(const Request& req) {
  std::string text = method_name(req.method);
  text += '\n';
  text += req.path;
  text += '\n';
  text += req.body;
  return sha256_hex(text);
}

Idempotency::Idempotency(events::PgPool& pool, IdempotencyConfig config)
    : pool_(pool), config_(config) {}

Result<std::optional<std::string>> idempotency_key_of(const Request& req) {
  std::optional<std::string> key;
  for (const auto& [name, value] : req.headers) {
    if (name != "idempotency-key") continue;
    if (key) return Error::validation({{{"Idempotency-Key"}, "must be sent only once"}});
    key = value;
  }
  if (key && !valid_key(*key)) {
    return Error::validation({{{"Idempotency-Key"}, "must be 1 to 255 visible ASCII characters"}});
  }
  return key;
}

Response Idempotency::handle(const Request& req, const std::string& user,
                             const std::function<Response(const Request&)>& inner) {
  const auto given = idempotency_key_of(req);
  if (!given) return error_response(given.error(), req.request_id);
  const auto& key = *given;
  if (!key) return inner(req);
  const std::string fingerprint = request_fingerprint(req);
  const std::string claim = new_uuid();
  events::IdempotencyRecord record;
  const Next next = pool_.run([&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    if (++claims_ % kPurgeEvery == 0) Store::purge(tx);
    Next n = Next::kRun;
    if (!Store::claim(tx, user, *key, fingerprint, claim)) {
      auto found = Store::find(tx, user, *key);
      if (!found) {
        n = Next::kInFlight;  // released between our insert and read: let the client retry
      } else if (found->request_hash_hex != fingerprint) {
        n = Next::kReused;
      } else if (found->state == "done") {
        record = *found;
        n = Next::kReplay;
      } else if (found->state == "in_flight") {
        // An abandoned claim (its request died) may be taken over after the lease.
        n = Store::take_over(tx, user, *key, claim, config_.lease_seconds) ? Next::kRun
                                                                            : Next::kInFlight;
      } else {
        n = Next::kUnrecorded;
      }
    }
    tx.commit();
    return n;
  });

  switch (next) {
    case Next::kReused:
      return error_response(Error::of(ErrorCode::kIdempotencyKeyReused,
                                      "this Idempotency-Key was used for another request"),
                            req.request_id);
    case Next::kInFlight:
      return error_response(
          Error::of(ErrorCode::kConflict, "a request with this Idempotency-Key is in progress"),
          req.request_id);
    case Next::kUnrecorded:
      return error_response(
          Error::of(ErrorCode::kConflict,
                    "the request with this Idempotency-Key was applied but its answer was lost; "
                    "read the resource instead"),
          req.request_id);
    case Next::kReplay: {
      Response r{record.response_status, nlohmann::json::parse(record.response_body), {}, {}};
      r.headers.emplace_back("Idempotent-Replayed", "true");
      return r;
    }
    case Next::kRun:
      break;
  }

  Request held = req;
  held.idempotency_key = *key;
  held.idempotency_claim = claim;
  // Gives the key back, so that a retry runs: after a 5xx answer, or an
  // exception that the server turns into one (503 for DbUnavailable, else 500).
  // Only an `in_flight` claim is released: had the command committed, its
  // `committed` mark committed with it, and the key stays (a retry gets 409).
  auto release = [&] {
    pool_.run([&](pqxx::connection& conn) {
      pqxx::work tx(conn);
      Store::release(tx, user, *key, claim);
      tx.commit();
    });
  };
  Response res;
  try {
    res = inner(held);
  } catch (...) {
    try {
      release();
    } catch (const std::exception& e) {
      // The database is likely gone too: the key is freed when its lease ends.
      log::warn("Idempotency-Key not released", {{"error", e.what()}}, req.request_id);
    }
    throw;
  }
  try {
    if (res.status >= 500) {
      release();  // nothing committed: a retry may run
    } else {
      pool_.run([&](pqxx::connection& conn) {
        pqxx::work tx(conn);
        Store::finish(tx, user, *key, claim, res.status, res.body_text());
        tx.commit();
      });
    }
  } catch (const std::exception& e) {
    // The command's outcome stands; the key stays unfinished and a retry gets
    // a 409 rather than a second execution.
    log::warn("Idempotency-Key not finished", {{"error", e.what()}}, req.request_id);
  }
  return res;
}

}  // namespace fsm::http

// Idempotency keys (operational state next to the log, like sessions).
//
// A key moves in_flight → committed → done:
//  - claim(): the first request with a key inserts it `in_flight` with a
//    fresh claim id (autocommit, so a concurrent duplicate sees it at once);
//  - mark_committed(): in the command's own transaction, conditional on the
//    claim id, so the events and the mark commit together or not at all;
//  - finish(): the response, for replays.
// A request that died before committing leaves `in_flight`; after the lease a
// retry takes the claim over (a new id), and the dead request, should it wake
// up, fails its mark_committed and commits nothing.
#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>

namespace fsm::events {

struct IdempotencyRecord {
  std::string request_hash_hex;
  std::string state;  // in_flight | committed | done
  int response_status = 0;
  std::string response_body;
};

class PgIdempotencyStore {
 public:
  static void prepare(pqxx::connection& conn);

  // Inserts the key for this request: true if this request now owns it. Keys
  // older than 24 hours are forgotten first.
  static bool claim(pqxx::transaction_base& tx, const std::string& user_id, const std::string& key,
                    const std::string& request_hash_hex, const std::string& claim_id);
  static std::optional<IdempotencyRecord> find(pqxx::transaction_base& tx,
                                               const std::string& user_id, const std::string& key);
  // Takes over an `in_flight` key claimed more than `lease_seconds` ago.
  static bool take_over(pqxx::transaction_base& tx, const std::string& user_id,
                        const std::string& key, const std::string& claim_id, int lease_seconds);
  // In the command's transaction: false when the claim was taken over.
  static bool mark_committed(pqxx::transaction_base& tx, const std::string& user_id,
                             const std::string& key, const std::string& claim_id);
  static void finish(pqxx::transaction_base& tx, const std::string& user_id,
                     const std::string& key, const std::string& claim_id, int status,
                     const std::string& body);
  // Drops an uncommitted claim (the request failed on our side; a retry may run).
  static void release(pqxx::transaction_base& tx, const std::string& user_id,
                      const std::string& key, const std::string& claim_id);
  // Forgets every key older than 24 hours.
  static void purge(pqxx::transaction_base& tx);
};

}  // namespace fsm::events

// The event log on PostgreSQL (libpqxx). All of its SQL is here.
//
// Guarantees:
//  - append is atomic per call, and checks `expected_version` while holding the
//    stream's lock: a mismatch is a ConcurrencyConflict, never an overwrite or a
//    duplicate version;
//  - appending an event whose event_id is already stored (in the same stream,
//    at the same place) writes nothing and returns the original result;
//  - read_all never returns an event while an earlier-ordered one may still
//    commit, so a reader that checkpoints what it got never skips an event.
#pragma once

#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <variant>
#include <vector>

#include "common/time.h"
#include "events/event.h"
#include "events/pg_pool.h"

namespace fsm::events {

using AppendOutcome = std::variant<AppendResult, ConcurrencyConflict>;

// Which events a read of the log returns: those matching every condition
// given (an empty member matches all).
struct EventFilter {
  std::string account_id;
  std::string stream_id;
  std::string event_type;
  std::optional<Timestamp> recorded_from;    // recorded_at >= this
  std::optional<Timestamp> recorded_before;  // recorded_at < this
};

class PgEventStore {
 public:
  // Called inside the append's transaction after the events are written and
  // before commit: inline projections go here, so the read tables and the log
  // commit together (read-your-writes). Not called for a deduplicated append.
  using InTransaction =
      std::function<void(pqxx::work&, const std::vector<RecordedEvent>&)>;

  explicit PgEventStore(PgPool& pool);

  // Registers this store's prepared statements on a connection.
  static void prepare(pqxx::connection& conn);

  AppendOutcome append(const AppendRequest& request);
  AppendOutcome append(const AppendRequest& request, const InTransaction& in_tx);
  // Events of one stream, oldest first, optionally only up to a version.
  std::vector<RecordedEvent> read_stream(const std::string& stream_id,
                                         std::optional<int> up_to_version = {});
  // Up to `limit` committed events after `after`, in (tx_id, position) order
  // (read_all_in with kFinished).
  ReadAllBatch read_all(Checkpoint after, int limit);

  // The building blocks, for callers that compose their own transaction.
  // append_in returns a conflict without writing when the version does not
  // match; it may throw pqxx::unique_violation (event_id reused at another
  // place), which aborts the transaction.
  static AppendOutcome append_in(pqxx::transaction_base& tx, const AppendRequest& request);
  // Takes the stream's row lock until the transaction ends, so commands on one
  // stream queue instead of racing (no-op for a stream that does not exist).
  static void lock_stream(pqxx::transaction_base& tx, const std::string& stream_id);

  // For a statement that creates a stream and writes more in the same
  // statement: the CTEs `input`, `created` and `appended` (RETURNING the
  // columns of `events` but account_id and schema_version) of an append to a
  // new stream, taking the append's parameters $1..$7 (stream_id, stream_type,
  // 0, events JSON, count, metadata JSON, account_id). Nothing is written
  // unless the SQL condition `gate` holds.
  static std::string new_stream_ctes(const std::string& gate);
  // The parameters of an append, in that order.
  static std::vector<std::string> append_params(const AppendRequest& request);
  static std::vector<RecordedEvent> read_stream_in(pqxx::transaction_base& tx,
                                                   const std::string& stream_id,
                                                   std::optional<int> up_to_version);
  // The log in (tx_id, position) order after `after`, up to `limit` events
  // that match `filter` (`next` is the last one's checkpoint). The one read
  // of the log in order: subscriptions, /events and `fsmctl events tail`.
  // kFinished: only transactions older than every running one (gap-safe for
  // a reader that follows the log); kVisible: all the snapshot sees (for a
  // fixed snapshot, or when every writer is locked out).
  enum class Horizon { kFinished, kVisible };
  static ReadAllBatch read_all_in(pqxx::transaction_base& tx, Checkpoint after, int limit,
                                  Horizon horizon = Horizon::kFinished,
                                  const EventFilter& filter = {});
  // The checkpoint of the event at `position`, to resume a read after it;
  // nullopt when there is none (in `account_id`'s events, when not empty).
  static std::optional<Checkpoint> checkpoint_at(pqxx::transaction_base& tx, std::int64_t position,
                                                 const std::string& account_id = "");

 private:
  PgPool& pool_;
};

}  // namespace fsm::events

// The PostgreSQL event store (libpqxx). All of its SQL is here.
#pragma once

#include <functional>
#include <pqxx/pqxx>

#include "events/event_store.h"
#include "events/pg_pool.h"

namespace fsm::events {

class PgEventStore final : public EventStore {
 public:
  // Called inside the append's transaction after the events are written and
  // before commit: inline projections go here, so the read tables and the log
  // commit together (read-your-writes). Not called for a deduplicated append.
  using InTransaction =
      std::function<void(pqxx::work&, const std::vector<RecordedEvent>&)>;

  explicit PgEventStore(PgPool& pool);

  // Registers this store's prepared statements on a connection.
  static void prepare(pqxx::connection& conn);

  AppendOutcome append(const AppendRequest& request) override;
  AppendOutcome append(const AppendRequest& request, const InTransaction& in_tx);
  std::vector<RecordedEvent> read_stream(const std::string& stream_id,
                                         std::optional<int> up_to_version = {}) override;
  ReadAllBatch read_all(Checkpoint after, int limit) override;

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
  // The columns of an event row (a SELECT list over `events`) and the event
  // such a row holds, for readers that write their own query.
  static const char* event_columns();
  static RecordedEvent from_row(const pqxx::row& row);
  // kFinished: only transactions older than every running one (gap-safe for
  // a reader that follows the log); kVisible: all the snapshot sees (for a
  // fixed snapshot, or when every writer is locked out).
  enum class Horizon { kFinished, kVisible };
  static ReadAllBatch read_all_in(pqxx::transaction_base& tx, Checkpoint after, int limit,
                                  Horizon horizon = Horizon::kFinished);

 private:
  PgPool& pool_;
};

}  // namespace fsm::events

// Replaying the log into empty tables in bulk, for verify and rebuild.
//
// The events are read stream by stream, each stream in version order. A
// stream's rows (its entity, line items, payments) depend on its own events
// only, so each stream is folded in memory by the projector's own decisions
// (row_change, payment_change) and its final rows are written with COPY: one
// row written per entity instead of one statement per event, and memory
// bounded by one stream plus the output buffers. (The audit log, one row per
// event and computed in SQL, is replayed by one INSERT ... SELECT instead:
// replay_audit in audit_projector.h.)
//
// Reading in stream order is also what keeps a replay exact: within a stream
// the version order is the order the live path applied (under the stream's
// lock), while (tx_id, position) order can put a later version first when its
// transaction got its id before taking the stream's lock.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "common/time.h"
#include "events/event.h"
#include "projections/tables.h"

namespace fsm::projections {

// The read tables of some projections.
struct Selection {
  std::set<std::string> tables;
  bool has(const std::string& table) const { return tables.count(table) > 0; }
  // The stream types whose events the selection needs (empty: every type).
  std::vector<std::string> stream_types() const;
  // SQL: `keyword` and a condition on `table`'s stream_type to those stream
  // types, or nothing when every type is needed.
  std::string stream_filter(const pqxx::transaction_base& tx, const std::string& keyword,
                            const std::string& table = "events") const;
};
// `names` empty: every projection. Throws std::invalid_argument naming an
// unknown projection and the known ones.
Selection select_projections(const std::vector<std::string>& names);

// Where a replay stops, per stream: at the first event past the position or
// past the instant (at the API's millisecond precision, as `?as_of`), so each
// entity is exactly as it was then.
struct ReplayLimit {
  std::optional<long long> position;
  std::optional<Timestamp> at;
  bool any() const { return position || at; }
  // Whether `event` is past the limit.
  bool excludes(const events::RecordedEvent& event) const;
};

// A batch of rows for one table in COPY's text format: one line each, every
// line ended by a newline.
struct TableBatch {
  std::string table;
  std::vector<std::string> columns;
  std::string text;
  std::size_t rows = 0;
};

// Writes a batch into `table` (resolved through the search path) with COPY.
void copy_into(pqxx::transaction_base& tx, const TableBatch& batch);

// Folds the events of streams with no rows yet (each stream's events
// together, in version order) into rows, handed to `write` in batches.
class BulkFold {
 public:
  BulkFold(const Selection& selection, const std::function<void(const TableBatch&)>& write,
           std::size_t flush_rows = 50000, std::size_t flush_bytes = 8u << 20);
  ~BulkFold();
  void apply(const events::RecordedEvent& event);
  // Writes whatever is still buffered.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct BulkOptions {
  Selection selection;
  ReplayLimit until;
  // Output buffered per table before `write` is called for it.
  std::size_t flush_rows = 50000;
  std::size_t flush_bytes = 8u << 20;
  // Called now and then with the events replayed so far and the total.
  std::function<void(long long done, long long total)> progress;
};

// Replays every event `reader`'s snapshot sees (of the selection's stream
// types, within `until`) and hands the rows to `write`, which must store them
// in empty tables of the selection; the audit log is left to replay_audit.
// Returns the number of events replayed.
long long bulk_replay(pqxx::transaction_base& reader,
                      const std::function<void(const TableBatch&)>& write,
                      const BulkOptions& options);

}  // namespace fsm::projections

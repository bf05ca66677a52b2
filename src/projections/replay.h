// Replaying the log into fresh tables with the very projector code the live
// path uses, to check the read tables (verify) or to replace them (rebuild).
//
// The fresh tables have the live tables' names in another schema (a
// temporary one for verify, `fsm_rebuild` for rebuild), found first through
// the search path, so the projector's unqualified statements write there.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <pqxx/pqxx>
#include <vector>

#include "events/event.h"

#include "common/time.h"

namespace fsm::projections {

// Every read table a replay produces (entity tables, their line items,
// payments, the audit log), all keyed by `id`.
const std::vector<std::string>& projection_tables();

// Applies one event to every projection (its entity's tables, the audit log),
// live in the event's transaction or in a replay; the entity's row as
// written, when one was (see apply_entity_event).
std::optional<std::string> apply_projections(pqxx::transaction_base& tx,
                                             const events::RecordedEvent& event);

struct Difference {
  std::string table;
  std::string id;
  std::string live;      // the live row as JSON, or "null" when missing
  std::string replayed;  // the replayed row, or "null" when the log has none
};

struct VerifyReport {
  long long events = 0;
  std::vector<Difference> differences;  // at most `max_differences`
  bool truncated = false;
};

// Replays the whole log into temporary tables and compares them with the
// live ones, all inside one repeatable-read snapshot, so writes that land
// meanwhile cause no false differences. Changes nothing.
VerifyReport verify(const std::string& database_url, std::size_t max_differences = 1000);

// The entity `id` of the account as it was at `at`: its events recorded up to
// then, replayed by the projector into scratch tables on a connection of its
// own, answered in the API's shape. nullopt when it did not exist then.
std::optional<std::string> entity_as_of(const std::string& database_url,
                                        const std::string& stream_type,
                                        const std::string& account_id, const std::string& id,
                                        Timestamp at);

struct RebuildReport {
  long long events = 0;
  double seconds = 0;
};

// Blue/green: replays into `fsm_rebuild` while the live tables keep serving,
// catches up to the head, then — for the instant of the final catch-up —
// locks out writers and swaps the tables in one transaction. Killed at any
// moment before that commit, the live tables are untouched; a rerun starts
// afresh. `progress` (may be empty) gets the events replayed so far.
// `batch`: events replayed per transaction in the bulk phase.
RebuildReport rebuild(const std::string& database_url,
                      const std::function<void(long long events, double seconds)>& progress = {},
                      int batch = 20000);

}  // namespace fsm::projections

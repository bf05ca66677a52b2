// Replaying the log into fresh tables with the projector's own decisions, to
// check the read tables (verify.cc), to replace them (rebuild.cc) or to see
// an entity as it was (as_of.cc).
//
// The fresh tables have the live tables' names in another schema (a
// temporary one for verify, `fsm_rebuild` for rebuild), found first through
// the search path, so COPY and the projector's unqualified statements write
// there.
#pragma once

#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/time.h"
#include "events/event.h"
#include "projections/bulk_replay.h"
// The live projector has a header of its own; src/commands still finds
// apply_projections through this one.
#include "projections/projector.h"
#include "projections/tables.h"

namespace fsm::projections {

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

// Replays the log in bulk into temporary tables and compares them with the
// live ones, reading both in one exported repeatable-read snapshot, so writes
// that land meanwhile cause no false differences. Changes nothing.
// `names`: the projections to check (empty: all).
VerifyReport verify(const std::string& database_url, const std::vector<std::string>& names = {},
                    std::size_t max_differences = 1000);

// The entity `id` of the account as it was at `at`: its events recorded up to
// then, replayed by the projector into scratch tables on a connection of its
// own, answered in the API's shape. nullopt when it did not exist then.
std::optional<std::string> entity_as_of(const std::string& database_url,
                                        const std::string& stream_type,
                                        const std::string& account_id, const std::string& id,
                                        Timestamp at);

struct RebuildOptions {
  std::vector<std::string> names;  // the projections to rebuild (empty: all)
  // Builds the tables as of then in the schema `fsm_until` for inspection
  // and swaps nothing: live tables always reflect the whole log.
  ReplayLimit until;
  std::size_t batch_rows = 50000;  // rows per COPY transaction in the bulk phase
  // Now and then: events replayed, events to replay, seconds so far.
  std::function<void(long long done, long long total, double seconds)> progress;
};

struct RebuildReport {
  long long events = 0;
  double seconds = 0;
  std::string schema;    // where the tables ended: "public" after a swap
};

// Blue/green: bulk-replays a snapshot of the log into fresh tables in
// `fsm_rebuild` while the live tables keep serving, builds their indexes,
// applies what committed since (rounds of catch-up, event by event), then —
// for the instant of the last catch-up — locks out writers and swaps the
// tables in one transaction. Killed at any moment before that commit, the
// live tables are untouched; a rerun starts afresh. One at a time (throws
// std::runtime_error while another runs).
RebuildReport rebuild(const std::string& database_url, const RebuildOptions& options = {});

}  // namespace fsm::projections

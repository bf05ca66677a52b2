// The event log's interface.
//
// Guarantees every implementation must keep:
//  - append is atomic per call, and checks `expected_version` while holding the
//    stream's lock: a mismatch is a ConcurrencyConflict, never an overwrite or a
//    duplicate version;
//  - appending an event whose event_id is already stored (in the same stream,
//    at the same place) writes nothing and returns the original result;
//  - read_all never returns an event while an earlier-ordered one may still
//    commit, so a reader that checkpoints what it got never skips an event.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "events/event.h"

namespace fsm::events {

using AppendOutcome = std::variant<AppendResult, ConcurrencyConflict>;

class EventStore {
 public:
  virtual ~EventStore() = default;

  virtual AppendOutcome append(const AppendRequest& request) = 0;

  // Events of one stream, oldest first, optionally only up to a version.
  virtual std::vector<RecordedEvent> read_stream(const std::string& stream_id,
                                                 std::optional<int> up_to_version = {}) = 0;

  // Up to `limit` committed events after `after`, in (tx_id, position) order.
  virtual ReadAllBatch read_all(Checkpoint after, int limit) = 0;
};

}  // namespace fsm::events

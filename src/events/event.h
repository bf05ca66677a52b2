// Event types as stored in the log, and the envelope around them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/time.h"

namespace fsm::events {

// Who and why: written into each event's `metadata`.
struct EventMetadata {
  std::string account_id;
  std::string actor_id;        // the user, or "system:worker", "operator:fsmctl", ...; may be empty
  std::string trace_id;        // the request's X-Request-Id
  std::string causation_id;    // the command or event that caused this one
  std::string correlation_id;  // the whole conversation (first command's id)

  nlohmann::json to_json() const;
};

// An event a command decided on, not yet stored.
struct NewEvent {
  std::string event_id;  // UUID, chosen by the caller: a retried append is deduplicated by it
  std::string type;      // e.g. "JobCreated"
  int schema_version = 1;
  nlohmann::json data = nlohmann::json::object();
};

// A position in the log as a catch-up reader sees it. Events are read in
// (tx_id, position) order; see PgEventStore::read_all_in.
struct Checkpoint {
  std::uint64_t tx_id = 0;
  std::int64_t position = 0;

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
  friend auto operator<=>(const Checkpoint&, const Checkpoint&) = default;
};

struct RecordedEvent {
  std::int64_t position = 0;
  std::uint64_t tx_id = 0;
  std::string event_id;
  std::string stream_id;
  std::string stream_type;
  int version = 0;
  std::string type;
  int schema_version = 1;
  nlohmann::json data;
  nlohmann::json metadata;
  Timestamp recorded_at{};

  Checkpoint checkpoint() const { return {tx_id, position}; }
  // As /events, history and `fsmctl events` show it.
  nlohmann::json to_json() const;
};

struct AppendRequest {
  std::string stream_id;
  std::string stream_type;
  int expected_version = 0;  // 0: the stream must not exist yet
  std::vector<NewEvent> events;
  EventMetadata metadata;
};

struct AppendResult {
  int new_version = 0;
  // True when every event_id was already stored: nothing was written and
  // `events` are the originals.
  bool deduplicated = false;
  std::vector<RecordedEvent> events;
};

// The stream was not at the version the command was decided on.
struct ConcurrencyConflict {
  std::string stream_id;
  int expected = 0;
  int actual = 0;
};

struct ReadAllBatch {
  std::vector<RecordedEvent> events;
  Checkpoint next;  // pass to the next read_all; equals `after` when nothing new
};

}  // namespace fsm::events

// Entities as folds over their events.
//
// Every aggregate here has the same event shapes, named after it:
//   <Type>Created        data: every field of the new entity
//   <Type>Updated        data: {changes: {field: new}, previous: {field: old}}
//   <Type>StatusChanged  data: {from, to, changes: {...fields set by the move}}
//   <Type>Deleted        data: {previous: {...the entity as it was}}
//   any other type     data may hold {changes: {...}} (a payment on an invoice)
// so one `evolve` serves them all; what differs per aggregate is `decide`
// (validation and state machines, in rules.h and documents.h).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/result.h"

namespace fsm::domain {

using nlohmann::json;

struct DomainEvent {
  std::string type;
  json data = json::object();
};

struct EntityState {
  bool exists = false;
  bool deleted = false;
  int version = 0;
  json fields = json::object();  // current values, `status` included

  bool live() const { return exists && !deleted; }
  std::string str(const char* field) const;  // "" when absent or null
};

// Applies one stored event. `version` is the event's stream version.
void evolve(EntityState& state, const std::string& type, const json& data, int version);

// The event types of an aggregate, e.g. event_type("Job", "Created").
inline std::string event_type(const std::string& aggregate, const char* what) {
  return aggregate + what;
}

// The event types beyond the four shapes above.
inline constexpr const char* kUserPasswordChanged = "UserPasswordChanged";
inline constexpr const char* kEstimateConverted = "EstimateConverted";
inline constexpr const char* kInvoicePaymentRecorded = "InvoicePaymentRecorded";
inline constexpr const char* kInvoicePaymentRemoved = "InvoicePaymentRemoved";
inline constexpr const char* kInvoiceNumberAssigned = "InvoiceNumberAssigned";

// Every stream type of the domain and the event types its streams hold: the
// one list that /events?type= and /audit-log?entity_type= are checked
// against (an unknown value is a 400, not an empty page). A new event type
// or stream type is added here.
struct StreamEvents {
  std::string stream_type;               // "job", also an audit row's entity_type
  std::vector<std::string> event_types;  // "JobCreated", ...
};
const std::vector<StreamEvents>& event_catalog();
std::vector<std::string> catalog_stream_types();
std::vector<std::string> catalog_event_types();

// Field changes `patch` makes to `state`: empty when nothing differs, so a
// no-op PATCH appends nothing.
DomainEvent updated_event(const std::string& aggregate, const EntityState& state,
                          const json& patch);

DomainEvent status_event(const std::string& aggregate, const EntityState& state,
                         const std::string& to, json changes = json::object());

DomainEvent deleted_event(const std::string& aggregate, const EntityState& state);

}  // namespace fsm::domain

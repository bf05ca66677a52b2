// The audit log: one row per domain event (who, when, what changed), written
// by the same code live (in the event's transaction) and in a replay.
//   <X>Created        insert  old: null          new: the new entity's fields
//   <X>Updated        update  old: previous      new: changes
//   <X>StatusChanged  update  old: {status}      new: {status, ...changes}
//   <X>Deleted        delete  old: the entity    new: null
//   anything else     update  old: null          new: the event's data
#pragma once

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>

#include "events/event.h"

namespace fsm::projections {

void prepare_audit_projector(pqxx::connection& conn);
void apply_audit(pqxx::transaction_base& tx, const events::RecordedEvent& event);

// The audit row of an event, without event_position and created_at (which
// the log assigns).
nlohmann::json audit_entry(const std::string& event_id, const std::string& stream_type,
                           const std::string& stream_id, const std::string& event_type,
                           const nlohmann::json& data, const nlohmann::json& metadata);

// The whole audit row of a recorded event (the entry, its position and time),
// as the live statement inserts it and a bulk replay copies it.
nlohmann::json audit_row(const events::RecordedEvent& event);

// The INSERT of an audit row; `from` defines the record `r` (audit_log's row
// type) with every column set.
std::string insert_audit_sql(const std::string& from);

}  // namespace fsm::projections

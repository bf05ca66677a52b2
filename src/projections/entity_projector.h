// Projects events into the entity tables (tables.h; estimates and invoices
// with their line items) and payments. The same code serves the live path
// (inline, in the append's transaction) and a replay. Applying an event the row already
// reflects is harmless: a row is inserted once per id, and an update or delete
// applies only to an older row version. (A Created re-applied after its
// entity's Deleted would re-insert it; replays run in log order, so it does
// not happen.)
#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "events/event.h"
#include "projections/tables.h"

namespace fsm::projections {

// What one event does to its entity's row: the projector's one decision,
// carried out by statements on the live path and folded in memory by a bulk
// replay (bulk_replay.h).
struct RowChange {
  enum class Kind { kNone, kInsert, kUpdate, kDelete };
  Kind kind = Kind::kNone;
  // kInsert: every column's value (absent = NULL); kUpdate: the changed
  // columns. Keys that name no column are ignored.
  nlohmann::json fields;
  // The entity's line items, replaced whole, when the event carries them.
  const nlohmann::json* line_items = nullptr;
};
RowChange row_change(const EntityTable& table, const events::RecordedEvent& event);

// What one event does to the payments table: records a payment (`row` holds
// every column) or removes one (`id`).
struct PaymentChange {
  enum class Kind { kNone, kRecord, kRemove };
  Kind kind = Kind::kNone;
  nlohmann::json row;
  std::string id;
};
PaymentChange payment_change(const events::RecordedEvent& event);

// Registers the prepared statements on a connection.
void prepare_entity_projector(pqxx::connection& conn);

// Applies one event. Events of stream types without a table are ignored.
// Returns the entity's row as written (JSON, the API's shape), or nullopt
// when no row was written (a delete, a replayed event, no table).
std::optional<std::string> apply_entity_event(pqxx::transaction_base& tx,
                                              const events::RecordedEvent& event);

// Applies one event to the payments table (most events leave it alone).
void apply_payment_event(pqxx::transaction_base& tx, const events::RecordedEvent& event);

// The row a Created event makes (without created_at/updated_at, which are
// the event's recorded_at): its data plus id, account_id and version.
nlohmann::json created_row(const nlohmann::json& data, const std::string& id,
                           const nlohmann::json& account_id, int version);

// The statement that inserts a Created event's row: `from` is a FROM list
// that defines the record `r` (of the table's row type). RETURNING row_json.
std::string insert_row_sql(const EntityTable& table, const std::string& from);

}  // namespace fsm::projections

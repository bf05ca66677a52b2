// Projects entity events into their read tables (accounts, users, clients,
// properties, jobs, visits). The same code serves the live path (inline, in
// the append's transaction) and a replay. Applying an event the row already
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

namespace fsm::projections {

// Rows owned by an entity and answered inside it as `line_items` (estimates,
// invoices). An event whose data (Created) or changes carry `line_items`
// replaces them whole.
struct ChildTable {
  std::string table;                 // "estimate_line_items"
  std::string parent_column;         // "estimate_id"
  std::vector<std::string> columns;  // answered in the JSON, besides id
};

struct EntityTable {
  std::string stream_type;  // "job"
  std::string table;        // "jobs"
  std::vector<std::string> columns;  // every column but id
  std::vector<std::string> timestamps;  // the timestamptz columns among them
  std::optional<ChildTable> line_items = std::nullopt;
};

const std::vector<EntityTable>& entity_tables();

// The column of every entity table that holds the global position of the last
// event applied to the row (not part of the API's JSON).
inline constexpr const char* kPositionColumn = "last_event_position";

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

// The entity table of a stream type, or nullptr when it has none.
const EntityTable* entity_table_for(const std::string& stream_type);

// Registers the prepared statements on a connection.
void prepare_entity_projector(pqxx::connection& conn);

// Applies one event. Events of stream types without a table are ignored.
// Returns the entity's row as written (JSON, the API's shape), or nullopt
// when no row was written (a delete, a replayed event, no table).
std::optional<std::string> apply_entity_event(pqxx::transaction_base& tx,
                                              const events::RecordedEvent& event);

// Applies one event to the payments table (most events leave it alone).
void apply_payment_event(pqxx::transaction_base& tx, const events::RecordedEvent& event);

// The SQL expression (over alias `t`) that renders a row of `table` as the
// API's JSON text: every column, timestamps in UTC with milliseconds.
std::string row_json_sql(const EntityTable& table);

// The row a Created event makes (without created_at/updated_at, which are
// the event's recorded_at): its data plus id, account_id and version.
nlohmann::json created_row(const nlohmann::json& data, const std::string& id,
                           const nlohmann::json& account_id, int version);

// The statement that inserts a Created event's row: `from` is a FROM list
// that defines the record `r` (of the table's row type). RETURNING row_json.
std::string insert_row_sql(const EntityTable& table, const std::string& from);

}  // namespace fsm::projections

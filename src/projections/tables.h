// The read tables' shapes, defined once in C++: every statement of the live
// projector, the replays' COPY column lists, the API's JSON of a row and the
// list of projections derive from these. The migrations (db/) create the
// same tables in SQL; tests/integration/schema_test.cc fails when the two
// disagree (column names, which are timestamptz, the values a CHECK allows).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace fsm::projections {

// Rows owned by an entity and answered inside it as `line_items` (estimates,
// invoices). An event whose data (Created) or changes carry `line_items`
// replaces them whole.
struct ChildTable {
  std::string table;                 // "estimate_line_items"
  std::string parent_column;         // "estimate_id"
  std::vector<std::string> columns;  // answered in the JSON, besides id
};

// A read table: an entity table (one row per stream), or one whose rows are
// per event (payments, audit_log).
struct EntityTable {
  std::string stream_type;              // "job"; empty when rows are not per stream
  std::string table;                    // "jobs"
  std::vector<std::string> columns;     // every column but id and kPositionColumn
  std::vector<std::string> timestamps;  // the timestamptz columns among them
  std::optional<ChildTable> line_items = std::nullopt;
  bool has_position = true;  // whether the table has kPositionColumn
};

// The column of a read table that holds the global position of the last
// event applied to the row (not part of the API's JSON).
inline constexpr const char* kPositionColumn = "last_event_position";

// One per stream type that has a table: accounts, users, clients,
// properties, jobs, visits, estimates, invoices, automations.
const std::vector<EntityTable>& entity_tables();
// The entity table of a stream type, or nullptr when it has none.
const EntityTable* entity_table_for(const std::string& stream_type);
// One row per payment recorded on an invoice (its stream), removed by id.
const EntityTable& payments_table();
// One row per event (audit_projector.h); written by the SQL function
// audit_log_row, whose result columns are these.
const EntityTable& audit_log_table();
// The values of audit_log.action.
const std::vector<std::string>& audit_actions();

// Every column the table stores: id, the columns, kPositionColumn if any.
std::vector<std::string> stored_columns(const EntityTable& table);
// id, account_id, the parent column and the answered columns.
std::vector<std::string> stored_columns(const ChildTable& table);

// SQL: the columns, each after `prefix` ("r."), separated by commas.
std::string column_list(const std::vector<std::string>& columns, const std::string& prefix = "");

// The SQL expression (over the row `alias`) that renders a row of `table` as
// the API's JSON text: id and every column, timestamps in UTC with
// milliseconds, line items in sort order.
std::string row_json_sql(const EntityTable& table, const std::string& alias = "t");

// The projections by name: one per entity table (estimates and invoices
// include their line items), payments, audit_log.
const std::vector<std::string>& projection_names();
// Every read table a replay produces (entity tables, their line items,
// payments, the audit log), all keyed by `id`.
const std::vector<std::string>& projection_tables();

}  // namespace fsm::projections

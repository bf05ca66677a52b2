#include "projections/entity_projector.h"

#include <algorithm>
#include <stdexcept>

#include "common/time.h"
#include "domain/entity.h"

namespace fsm::projections {
namespace {

std::string stmt(const EntityTable& t, const char* what) { return "fsm_proj_" + t.table + "_" + what; }

}  // namespace

const std::vector<std::string> kLineColumns = {"description", "quantity", "unit_price_cents",
                                               "total_cents", "sort_order"};
const std::vector<std::string> kInvoiceLineColumns = {
    "estimate_line_item_id", "description", "quantity", "unit_price_cents", "total_cents",
    "sort_order"};

const EntityTable* entity_table_for(const std::string& stream_type) {
  for (const auto& t : entity_tables()) {
    if (t.stream_type == stream_type) return &t;
  }
  return nullptr;
}

const std::vector<EntityTable>& entity_tables() {
  static const std::vector<std::string> kStamps = {"created_at", "updated_at"};
  static const std::vector<EntityTable> tables = {
      {"account", "accounts", {"account_id", "name", "version", "created_at", "updated_at"},
       kStamps},
      {"user",
       "users",
       {"account_id", "email", "full_name", "role", "phone", "version", "created_at",
        "updated_at"},
       kStamps},
      {"client",
       "clients",
       {"account_id", "name", "email", "phone", "notes", "version", "created_at", "updated_at"},
       kStamps},
      {"property",
       "properties",
       {"account_id", "client_id", "address", "name", "city", "state", "zip", "notes", "version",
        "created_at", "updated_at"},
       kStamps},
      {"job",
       "jobs",
       {"account_id", "client_id", "property_id", "title", "description", "priority", "status",
        "scheduled_start", "scheduled_end", "version", "created_at", "updated_at"},
       {"scheduled_start", "scheduled_end", "created_at", "updated_at"}},
      {"visit",
       "visits",
       {"account_id", "job_id", "assigned_user_id", "status", "scheduled_start", "scheduled_end",
        "arrived_at", "completed_at", "tech_notes", "version", "created_at", "updated_at"},
       {"scheduled_start", "scheduled_end", "arrived_at", "completed_at", "created_at",
        "updated_at"}},
      {"estimate",
       "estimates",
       {"account_id", "client_id", "job_id", "property_id", "status", "subtotal_cents",
        "tax_rate_bps", "tax_cents", "total_cents", "notes", "internal_notes", "expires_at",
        "sent_at", "invoice_id", "version", "created_at", "updated_at"},
       {"expires_at", "sent_at", "created_at", "updated_at"},
       ChildTable{"estimate_line_items", "estimate_id", kLineColumns}},
      {"invoice",
       "invoices",
       {"account_id", "invoice_number", "client_id", "job_id", "property_id", "estimate_id",
        "status", "subtotal_cents", "tax_rate_bps", "tax_cents", "total_cents", "paid_cents",
        "notes", "due_date", "sent_at", "paid_at", "version", "created_at", "updated_at"},
       {"due_date", "sent_at", "paid_at", "created_at", "updated_at"},
       ChildTable{"invoice_line_items", "invoice_id", kInvoiceLineColumns}},
  };
  return tables;
}

void prepare_entity_projector(pqxx::connection& conn) {
  for (const auto& t : entity_tables()) {
    // Every column, and the position of the event applied (not in the API).
    std::string cols = kPositionColumn, from_r = std::string("r.") + kPositionColumn;
    for (const auto& c : t.columns) {
      cols += ", " + c;
      from_r += ", r." + c;
    }
    // The JSON keys name the columns; PostgreSQL converts each value to the
    // column's type (uuid, timestamptz, ...). Keys without a column are ignored.
    // Both answer the row they wrote, as the API shows it.
    conn.prepare(stmt(t, "insert"),
                 insert_row_sql(t, "jsonb_populate_record(NULL::" + t.table + ", $1::jsonb) r"));
    // jsonb_populate_record(t, …) starts from the current row, so columns
    // absent from the JSON keep their values.
    conn.prepare(stmt(t, "update"), "UPDATE " + t.table + " AS t SET (" + cols + ") = (SELECT " +
                                        from_r + " FROM jsonb_populate_record(t, $2::jsonb) r)" +
                                        " WHERE t.id = $1::uuid AND t.version < $3::int RETURNING " +
                                        row_json_sql(t));
    conn.prepare(stmt(t, "delete"),
                 "DELETE FROM " + t.table + " WHERE id = $1::uuid AND version < $2::int");
    if (t.line_items) {
      const auto& li = *t.line_items;
      std::string li_cols = "id, account_id, " + li.parent_column, li_from = "r.id, $2::uuid, $1::uuid";
      for (const auto& c : li.columns) {
        li_cols += ", " + c;
        li_from += ", r." + c;
      }
      // One statement: the DELETE sees the rows as they were before it, so the
      // INSERT's new rows are never removed by it.
      conn.prepare(stmt(t, "lines"), "WITH gone AS (DELETE FROM " + li.table + " WHERE " +
                                         li.parent_column + " = $1::uuid) INSERT INTO " + li.table +
                                         " (" + li_cols + ") SELECT " + li_from +
                                         " FROM jsonb_populate_recordset(NULL::" + li.table +
                                         ", $3::jsonb) r");
      conn.prepare(stmt(t, "row"), "SELECT " + row_json_sql(t) + " FROM " + t.table +
                                       " t WHERE t.id = $1::uuid");
    }
  }
  conn.prepare("fsm_proj_payments_insert",
               "INSERT INTO payments SELECT r.* FROM jsonb_populate_record(NULL::payments,"
               " $1::jsonb) r ON CONFLICT (id) DO NOTHING");
  conn.prepare("fsm_proj_payments_delete", "DELETE FROM payments WHERE id = $1::uuid");
}

nlohmann::json created_row(const nlohmann::json& data, const std::string& id,
                           const nlohmann::json& account_id, int version) {
  nlohmann::json row = data;
  row["id"] = id;
  if (!row.contains("account_id")) row["account_id"] = account_id;
  row["version"] = version;
  return row;
}

std::string insert_row_sql(const EntityTable& t, const std::string& from) {
  std::string cols = std::string(", ") + kPositionColumn,
              from_r = std::string(", r.") + kPositionColumn;
  for (const auto& c : t.columns) {
    cols += ", " + c;
    from_r += ", r." + c;
  }
  return "INSERT INTO " + t.table + " AS t (id" + cols + ") SELECT r.id" + from_r + " FROM " +
         from + " ON CONFLICT (id) DO NOTHING RETURNING " + row_json_sql(t) + " AS row_json";
}

std::string row_json_sql(const EntityTable& t) {
  std::string out = "json_build_object('id', t.id";
  for (const auto& c : t.columns) {
    const bool stamp = std::find(t.timestamps.begin(), t.timestamps.end(), c) != t.timestamps.end();
    out += ", '" + c + "', ";
    out += stamp ? "to_char(t." + c + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                 : "t." + c;
  }
  if (t.line_items) {
    const auto& li = *t.line_items;
    out += ", 'line_items', (SELECT coalesce(json_agg(json_build_object('id', li.id";
    for (const auto& c : li.columns) out += ", '" + c + "', li." + c;
    out += ") ORDER BY li.sort_order), '[]'::json) FROM " + li.table + " li WHERE li." +
           li.parent_column + " = t.id)";
  }
  return out + ")::text";
}

RowChange row_change(const EntityTable& t, const events::RecordedEvent& e) {
  RowChange change;
  const std::string at = format_rfc3339(e.recorded_at);
  const nlohmann::json* source = nullptr;
  if (e.type.ends_with("Created")) {
    change.kind = RowChange::Kind::kInsert;
    change.fields =
        created_row(e.data, e.stream_id, e.metadata.value("account_id", nlohmann::json()), e.version);
    change.fields["created_at"] = at;
    change.fields["updated_at"] = at;
    source = &e.data;
  } else if (e.type.ends_with("Deleted")) {
    change.kind = RowChange::Kind::kDelete;
    return change;
  } else {
    // Updated, StatusChanged and other event types (a payment) carry their
    // column changes in `changes`; one without (a password change) is still
    // a version of the entity.
    change.kind = RowChange::Kind::kUpdate;
    auto changes = e.data.find("changes");
    if (changes != e.data.end() && changes->is_object()) {
      change.fields = *changes;
      source = &*changes;
    } else {
      change.fields = nlohmann::json::object();
    }
    if (e.type.ends_with("StatusChanged")) change.fields["status"] = e.data.value("to", "");
    change.fields["version"] = e.version;
    change.fields["updated_at"] = at;
    change.fields.erase("id");
    change.fields.erase("account_id");
    change.fields.erase("created_at");
  }
  change.fields[kPositionColumn] = e.position;
  if (t.line_items && source && source->contains("line_items")) {
    change.line_items = &(*source)["line_items"];
  }
  return change;
}

PaymentChange payment_change(const events::RecordedEvent& e) {
  PaymentChange change;
  if (e.type == domain::kInvoicePaymentRecorded) {
    change.kind = PaymentChange::Kind::kRecord;
    change.row = e.data.value("payment", nlohmann::json::object());
    change.row["account_id"] = e.metadata.value("account_id", nlohmann::json());
    change.row["invoice_id"] = e.stream_id;
    change.row["created_at"] = format_rfc3339(e.recorded_at);
    change.row[kPositionColumn] = e.position;
  } else if (e.type == domain::kInvoicePaymentRemoved) {
    change.kind = PaymentChange::Kind::kRemove;
    change.id = e.data.value("payment_id", std::string());
  }
  return change;
}

void apply_payment_event(pqxx::transaction_base& tx, const events::RecordedEvent& e) {
  const PaymentChange payment = payment_change(e);
  if (payment.kind == PaymentChange::Kind::kRecord) {
    tx.exec_prepared("fsm_proj_payments_insert", payment.row.dump());
  } else if (payment.kind == PaymentChange::Kind::kRemove) {
    tx.exec_prepared("fsm_proj_payments_delete", payment.id);
  }
}

std::optional<std::string> apply_entity_event(pqxx::transaction_base& tx,
                                              const events::RecordedEvent& e) {
  const EntityTable* t = entity_table_for(e.stream_type);
  if (!t) return std::nullopt;
  const RowChange change = row_change(*t, e);
  pqxx::result written;
  switch (change.kind) {
    case RowChange::Kind::kInsert:
      written = tx.exec_prepared(stmt(*t, "insert"), change.fields.dump());
      break;
    case RowChange::Kind::kUpdate:
      written = tx.exec_prepared(stmt(*t, "update"), e.stream_id, change.fields.dump(), e.version);
      break;
    case RowChange::Kind::kDelete:
      tx.exec_prepared(stmt(*t, "delete"), e.stream_id, e.version);
      break;
    case RowChange::Kind::kNone:
      break;
  }
  if (written.empty()) return std::nullopt;
  if (t->line_items) {
    if (change.line_items) {
      tx.exec_prepared(stmt(*t, "lines"), e.stream_id,
                       e.metadata.value("account_id", nlohmann::json()).is_string()
                           ? e.metadata["account_id"].get<std::string>()
                           : std::string(),
                       change.line_items->dump());
    }
    // The answer includes the line items, written after the row.
    return std::string(tx.exec_prepared1(stmt(*t, "row"), e.stream_id)[0].c_str());
  }
  return std::string(written[0][0].c_str());
}

}  // namespace fsm::projections

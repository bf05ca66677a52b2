#include "projections/entity_projector.h"

#include "common/time.h"
#include "domain/entity.h"

namespace fsm::projections {
namespace {

std::string stmt(const EntityTable& t, const char* what) { return "fsm_proj_" + t.table + "_" + what; }

// What an update sets: every stored column but id.
std::vector<std::string> updated_columns(const EntityTable& t) {
  auto columns = stored_columns(t);
  columns.erase(columns.begin());
  return columns;
}

}  // namespace

void prepare_entity_projector(pqxx::connection& conn) {
  for (const auto& t : entity_tables()) {
    // Every column, and the position of the event applied (not in the API).
    const auto set = updated_columns(t);
    const std::string cols = column_list(set), from_r = column_list(set, "r.");
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
      // In stored_columns' order: the account and parent come from the
      // event, the rest from each item.
      const std::string li_cols = column_list(stored_columns(li)),
                        li_from = "r.id, $2::uuid, $1::uuid, " + column_list(li.columns, "r.");
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
  const auto& payments = payments_table();
  const auto paid = stored_columns(payments);
  conn.prepare("fsm_proj_payments_insert",
               "INSERT INTO " + payments.table + " (" + column_list(paid) + ") SELECT " +
                   column_list(paid, "r.") + " FROM jsonb_populate_record(NULL::" + payments.table +
                   ", $1::jsonb) r ON CONFLICT (id) DO NOTHING");
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
  const auto columns = stored_columns(t);
  return "INSERT INTO " + t.table + " AS t (" + column_list(columns) + ") SELECT " +
         column_list(columns, "r.") + " FROM " + from + " ON CONFLICT (id) DO NOTHING RETURNING " +
         row_json_sql(t) + " AS row_json";
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

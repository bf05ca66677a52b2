#include "projections/tables.h"

#include <algorithm>

namespace fsm::projections {
const std::vector<EntityTable>& entity_tables() {
  static const std::vector<std::string> kStamps = {"created_at", "updated_at"};
  static const std::vector<std::string> kLineColumns = {
      "description", "quantity", "unit_price_cents", "total_cents", "sort_order"};
  static const std::vector<std::string> kInvoiceLineColumns = {
      "estimate_line_item_id", "description", "quantity",
      "unit_price_cents",      "total_cents", "sort_order"};
  static const std::vector<EntityTable> tables = {
      {"account",
       "accounts",
       {"account_id", "name", "version", "created_at", "updated_at"},
       kStamps},
      {"user",
       "users",
       {"account_id", "email", "full_name", "role", "phone", "version", "created_at", "updated_at"},
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
      {"automation",
       "automations",
       {"account_id", "type", "enabled", "config", "next_run_at", "last_run_at", "version",
        "created_at", "updated_at"},
       {"next_run_at", "last_run_at", "created_at", "updated_at"}},
  };
  return tables;
}

const EntityTable* entity_table_for(const std::string& stream_type) {
  for (const auto& t : entity_tables()) {
    if (t.stream_type == stream_type) return &t;
  }
  return nullptr;
}

const EntityTable& payments_table() {
  static const EntityTable t = {
      "",
      "payments",
      {"account_id", "invoice_id", "amount_cents", "method", "received_at", "notes", "created_at"},
      {"received_at", "created_at"}};
  return t;
}

const EntityTable& audit_log_table() {
  static const EntityTable t = {
      "",
      "audit_log",
      {"account_id", "entity_type", "entity_id", "action", "actor_id", "old_value", "new_value",
       "event_type", "event_position", "trace_id", "created_at"},
      {"created_at"},
      std::nullopt,
      false};
  return t;
}

const std::vector<std::string>& audit_actions() {
  static const std::vector<std::string> actions = {"insert", "update", "delete"};
  return actions;
}

std::vector<std::string> stored_columns(const EntityTable& t) {
  std::vector<std::string> out = {"id"};
  out.insert(out.end(), t.columns.begin(), t.columns.end());
  if (t.has_position) out.push_back(kPositionColumn);
  return out;
}

std::vector<std::string> stored_columns(const ChildTable& t) {
  std::vector<std::string> out = {"id", "account_id", t.parent_column};
  out.insert(out.end(), t.columns.begin(), t.columns.end());
  return out;
}

std::string column_list(const std::vector<std::string>& columns, const std::string& prefix) {
  std::string out;
  for (const auto& c : columns) {
    if (!out.empty()) out += ", ";
    out += prefix;
    out += c;
  }
  return out;
}

std::string row_json_sql(const EntityTable& t, const std::string& alias) {
  const std::string a = alias + ".";
  std::string out = "json_build_object('id', " + a + "id";
  for (const auto& c : t.columns) {
    const bool stamp = std::find(t.timestamps.begin(), t.timestamps.end(), c) != t.timestamps.end();
    out += ", '" + c + "', ";
    out += stamp ? "to_char(" + a + c + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                 : a + c;
  }
  if (t.line_items) {
    const auto& li = *t.line_items;
    out += ", 'line_items', (SELECT coalesce(json_agg(json_build_object('id', li.id";
    for (const auto& c : li.columns) out += ", '" + c + "', li." + c;
    out += ") ORDER BY li.sort_order), '[]'::json) FROM " + li.table + " li WHERE li." +
           li.parent_column + " = " + a + "id)";
  }
  return out + ")::text";
}

const std::vector<std::string>& projection_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& t : entity_tables()) n.push_back(t.table);
    n.push_back(payments_table().table);
    n.push_back(audit_log_table().table);
    return n;
  }();
  return names;
}

const std::vector<std::string>& projection_tables() {
  static const std::vector<std::string> tables = [] {
    std::vector<std::string> t;
    for (const auto& e : entity_tables()) {
      t.push_back(e.table);
      if (e.line_items) t.push_back(e.line_items->table);
    }
    t.push_back(payments_table().table);
    t.push_back(audit_log_table().table);
    return t;
  }();
  return tables;
}

}  // namespace fsm::projections

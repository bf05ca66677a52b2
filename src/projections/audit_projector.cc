#include "projections/audit_projector.h"

#include "common/time.h"

namespace fsm::projections {

using nlohmann::json;

json audit_entry(const std::string& event_id, const std::string& stream_type,
                 const std::string& stream_id, const std::string& type, const json& data,
                 const json& metadata) {
  json row = {{"id", event_id},         {"account_id", metadata.value("account_id", json())},
              {"entity_type", stream_type}, {"entity_id", stream_id},
              {"actor_id", metadata.value("actor_id", json())},
              {"event_type", type},     {"trace_id", metadata.value("trace_id", json())}};
  if (type.ends_with("Created")) {
    row["action"] = "insert";
    row["old_value"] = nullptr;
    row["new_value"] = data;
  } else if (type.ends_with("Updated")) {
    row["action"] = "update";
    row["old_value"] = data.value("previous", json::object());
    row["new_value"] = data.value("changes", json::object());
  } else if (type.ends_with("StatusChanged")) {
    row["action"] = "update";
    row["old_value"] = {{"status", data.value("from", json())}};
    json now = data.value("changes", json::object());
    now["status"] = data.value("to", json());
    row["new_value"] = std::move(now);
  } else if (type.ends_with("Deleted")) {
    row["action"] = "delete";
    row["old_value"] = data.value("previous", json::object());
    row["new_value"] = nullptr;
  } else {
    row["action"] = "update";
    row["old_value"] = nullptr;
    row["new_value"] = data;
  }
  return row;
}

std::string insert_audit_sql(const std::string& from) {
  return "INSERT INTO audit_log (id, account_id, entity_type, entity_id, action, actor_id,"
         " old_value, new_value, event_type, event_position, trace_id, created_at)"
         " SELECT r.id, r.account_id, r.entity_type, r.entity_id, r.action, r.actor_id,"
         " r.old_value, r.new_value, r.event_type, r.event_position, r.trace_id, r.created_at"
         " FROM " + from + " ON CONFLICT (id) DO NOTHING";
}

void prepare_audit_projector(pqxx::connection& conn) {
  conn.prepare("fsm_proj_audit", insert_audit_sql("jsonb_populate_record(NULL::audit_log, $1::jsonb) r"));
}

json audit_row(const events::RecordedEvent& e) {
  json row = audit_entry(e.event_id, e.stream_type, e.stream_id, e.type, e.data, e.metadata);
  row["event_position"] = e.position;
  row["created_at"] = format_rfc3339(e.recorded_at);
  return row;
}

void apply_audit(pqxx::transaction_base& tx, const events::RecordedEvent& e) {
  tx.exec_prepared("fsm_proj_audit", audit_row(e).dump());
}

}  // namespace fsm::projections

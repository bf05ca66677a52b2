#include "projections/audit_projector.h"

#include "projections/tables.h"

namespace fsm::projections {

std::string insert_audit_sql(const std::string& from, const std::string& e) {
  // audit_log_row's result columns are the table's (schema_test checks it).
  const auto columns = stored_columns(audit_log_table());
  return "INSERT INTO " + audit_log_table().table + " (" + column_list(columns) + ") SELECT " +
         column_list(columns, "ar.") + " FROM " + from + " CROSS JOIN LATERAL audit_log_row(" + e +
         ".event_id, " + e + ".stream_type, " + e + ".stream_id, " + e + ".event_type, " + e +
         ".data, " + e + ".metadata, " + e + ".global_position, " + e + ".recorded_at) ar";
}

void prepare_audit_projector(pqxx::connection& conn) {
  conn.prepare("fsm_proj_audit", insert_audit_sql("events e", "e") +
                                     " WHERE e.global_position = $1 ON CONFLICT (id) DO NOTHING");
}

void apply_audit(pqxx::transaction_base& tx, const events::RecordedEvent& e) {
  tx.exec_prepared("fsm_proj_audit", e.position);
}

long long replay_audit(pqxx::transaction_base& tx, const ReplayLimit& until) {
  std::string where = " WHERE true";
  // Positions grow with the version within a stream: the first event past a
  // position has none but later ones after it.
  if (until.position) {
    where += " AND e.global_position <= ";
    where += std::to_string(*until.position);
  }
  if (until.at) {
    // recorded_at does not (it is the transaction's start): an event is left
    // out when it or an earlier one of its stream is past the instant.
    where +=
        " AND NOT EXISTS (SELECT 1 FROM events p WHERE p.stream_id = e.stream_id"
        " AND p.stream_version <= e.stream_version AND date_trunc('milliseconds', p.recorded_at)"
        " > 'epoch'::timestamptz + interval '1 microsecond' * ";
    where += std::to_string(to_unix_micros(*until.at));
    where += ')';
  }
  return tx.exec0(insert_audit_sql("events e", "e") + where).affected_rows();
}

}  // namespace fsm::projections

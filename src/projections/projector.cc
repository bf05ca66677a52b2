#include "projections/projector.h"

#include "projections/audit_projector.h"
#include "projections/bulk_replay.h"
#include "projections/entity_projector.h"

namespace fsm::projections {

void prepare_projections(pqxx::connection& conn) {
  prepare_entity_projector(conn);
  prepare_audit_projector(conn);
}

std::optional<std::string> apply_projections(pqxx::transaction_base& tx,
                                             const events::RecordedEvent& e,
                                             const Selection* only) {
  std::optional<std::string> row;
  const EntityTable* t = entity_table_for(e.stream_type);
  if (t && (!only || only->has(t->table))) row = apply_entity_event(tx, e);
  if (!only || only->has(payments_table().table)) apply_payment_event(tx, e);
  if (!only || only->has(audit_log_table().table)) apply_audit(tx, e);
  return row;
}

}  // namespace fsm::projections

// The audit log: one row per domain event (who, when, what changed). What an
// event writes is defined once, in SQL (`audit_log_row`,
// db/007_audit_projection.sql), and run by the live path in the event's own
// transaction and by a replay over the whole log in one statement.
#pragma once

#include <pqxx/pqxx>
#include <string>

#include "events/event.h"
#include "projections/bulk_replay.h"

namespace fsm::projections {

void prepare_audit_projector(pqxx::connection& conn);

// Inserts the audit row of an event already in `events` (written by this
// transaction or earlier); a row already there is kept.
void apply_audit(pqxx::transaction_base& tx, const events::RecordedEvent& event);

// `INSERT INTO audit_log (...) SELECT ... FROM <from> CROSS JOIN LATERAL
// audit_log_row(<alias>.event_id, ...)`: `alias` names, in `from`, a row with
// the columns of `events`. The caller adds WHERE / ON CONFLICT.
std::string insert_audit_sql(const std::string& from, const std::string& alias);

// Inserts the audit rows of every event the transaction's snapshot sees
// within `until` (per stream, none after its first event past the limit, as
// the fold of bulk_replay.h) into an `audit_log` without rows or unique
// indexes (found through the search path). Returns the rows inserted.
long long replay_audit(pqxx::transaction_base& tx, const ReplayLimit& until);

}  // namespace fsm::projections

// The live projector: every projection of one event (its entity's tables,
// payments, the audit log), applied in the event's own transaction by the
// command that appends it, so the read tables commit with the log; and by a
// rebuild's catch-up, with the same statements.
#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "events/event.h"

namespace fsm::projections {

struct Selection;  // bulk_replay.h

// Registers the statements apply_projections runs on a connection.
void prepare_projections(pqxx::connection& conn);

// Applies one event to every projection; the entity's row as written, when
// one was (see apply_entity_event). `only`: just these projections' tables.
std::optional<std::string> apply_projections(pqxx::transaction_base& tx,
                                             const events::RecordedEvent& event,
                                             const Selection* only = nullptr);

}  // namespace fsm::projections

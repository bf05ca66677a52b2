// Where each projection has got to in the log. A checkpoint is written in the
// same transaction as the read-table rows it covers, so the two never disagree.
#pragma once

#include <pqxx/pqxx>
#include <string>

#include "events/event.h"

namespace fsm::projections {

events::Checkpoint load_checkpoint(pqxx::transaction_base& tx, const std::string& projection);

// Moves the checkpoint forward; a checkpoint never moves backwards.
void save_checkpoint(pqxx::transaction_base& tx, const std::string& projection,
                     events::Checkpoint checkpoint);

}  // namespace fsm::projections

#include "projections/checkpoints.h"

#include <charconv>

namespace fsm::projections {

events::Checkpoint load_checkpoint(pqxx::transaction_base& tx, const std::string& projection) {
  auto rows = tx.exec_params(
      "SELECT tx_id::text, position FROM projection_checkpoints WHERE name = $1", projection);
  if (rows.empty()) return {};
  events::Checkpoint cp;
  const std::string tx_text = rows[0][0].c_str();
  std::from_chars(tx_text.data(), tx_text.data() + tx_text.size(), cp.tx_id);
  cp.position = rows[0][1].as<std::int64_t>();
  return cp;
}

void save_checkpoint(pqxx::transaction_base& tx, const std::string& projection,
                     events::Checkpoint checkpoint) {
  tx.exec_params(
      "INSERT INTO projection_checkpoints (name, tx_id, position, updated_at)"
      " VALUES ($1, $2::text::xid8, $3, now())"
      " ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position,"
      "  updated_at = now()"
      " WHERE (projection_checkpoints.tx_id, projection_checkpoints.position)"
      "  < (EXCLUDED.tx_id, EXCLUDED.position)",
      projection, std::to_string(checkpoint.tx_id), checkpoint.position);
}

}  // namespace fsm::projections

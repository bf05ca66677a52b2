// ?as_of: an entity replayed from its events into scratch tables.
#include <pqxx/pqxx>

#include "events/pg_event_store.h"
#include "projections/entity_projector.h"
#include "projections/entity_reads.h"
#include "projections/projector.h"
#include "projections/replay.h"

namespace fsm::projections {
namespace {

// Temporary copies of every read table, dropped with the transaction. They
// come first in the search path: statements prepared after this (on this
// connection only) write into them.
void create_scratch_tables(pqxx::transaction_base& tx) {
  for (const auto& t : projection_tables()) {
    tx.exec("CREATE TEMP TABLE " + t + " (LIKE public." + t + " INCLUDING ALL) ON COMMIT DROP");
  }
}

}  // namespace

std::optional<std::string> entity_as_of(const std::string& url, const std::string& stream_type,
                                        const std::string& account_id, const std::string& id,
                                        Timestamp at) {
  const auto& table = entity_table(stream_type);
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  create_scratch_tables(tx);
  events::PgEventStore::prepare(conn);
  prepare_projections(conn);
  const auto events = events::PgEventStore::read_stream_in(tx, id, std::nullopt);
  if (events.empty() || events.front().stream_type != stream_type ||
      events.front().metadata.value("account_id", nlohmann::json()) != nlohmann::json(account_id)) {
    return std::nullopt;
  }
  const ReplayLimit until{.position = std::nullopt, .at = at};
  for (const auto& e : events) {
    if (until.excludes(e)) break;
    apply_entity_event(tx, e);
  }
  auto row = tx.exec_params(
      "SELECT " + row_json_sql(table) + " FROM pg_temp." + table.table + " t WHERE t.id = $1::uuid",
      id);
  tx.abort();  // nothing of this is kept
  if (row.empty()) return std::nullopt;
  return std::string(row[0][0].c_str());
}

}  // namespace fsm::projections

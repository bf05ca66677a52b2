#include "events/migrator.h"

#include <pqxx/pqxx>

namespace fsm::events {
namespace {
// Arbitrary constant: the advisory lock key that serialises migration runners.
constexpr long long kMigrationLockKey = 0x66736d6d6967;  // "fsmmig"
}  // namespace

MigrateReport migrate(const std::string& conninfo, const std::vector<Migration>& migrations) {
  pqxx::connection conn(conninfo);
  {
    pqxx::nontransaction nt(conn);
    nt.exec("SET client_min_messages = warning");
    nt.exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLockKey) + ")");
    nt.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
  }
  MigrateReport report;
  try {
    for (const auto& m : migrations) {
      pqxx::work tx(conn);
      auto done = tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
      if (done.empty()) {
        tx.exec(m.sql);
        tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                       m.name);
        tx.commit();
        report.applied.push_back(m.name);
      }
      report.current_version = m.version;
    }
  } catch (...) {
    pqxx::nontransaction(conn).exec("SELECT pg_advisory_unlock_all()");
    throw;
  }
  pqxx::nontransaction(conn).exec("SELECT pg_advisory_unlock_all()");
  return report;
}

}  // namespace fsm::events

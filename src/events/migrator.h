// Applies db/NNN_*.sql in order, each in its own transaction, recording each in
// schema_migrations. Safe to run twice and from two processes at once (an
// advisory lock serialises runners).
#pragma once

#include <string>
#include <vector>

namespace fsm::events {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// The migrations compiled into the binaries from db/ (generated at build time).
const std::vector<Migration>& embedded_migrations();

struct MigrateReport {
  std::vector<std::string> applied;  // names applied by this run
  int current_version = 0;
};

MigrateReport migrate(const std::string& conninfo,
                      const std::vector<Migration>& migrations = embedded_migrations());

}  // namespace fsm::events

// Shared by verify and rebuild: several connections working in one snapshot.
#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>

namespace fsm::projections::internal {

// A repeatable-read transaction, on a connection of its own, in the snapshot
// `snapshot` (exported by another transaction that is still open).
struct SnapshotTx {
  SnapshotTx(const std::string& url, const std::string& snapshot, const std::string& search_path)
      : conn(url) {
    if (!search_path.empty()) conn.set_variable("search_path", search_path);
    tx.emplace(conn);
    // Appended piecewise: quote()'s `"'" + ...` trips GCC 12's -Wrestrict
    // false positive at -O3 once inlined here.
    std::string set = "SET TRANSACTION SNAPSHOT '";
    set += tx->esc(snapshot);
    set += '\'';
    tx->exec(set);
  }
  pqxx::connection conn;
  std::optional<pqxx::transaction<pqxx::repeatable_read>> tx;
};

}  // namespace fsm::projections::internal

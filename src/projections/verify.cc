// verify: the log replayed in bulk into temporary tables, compared with the
// live ones in one snapshot.
#include <algorithm>
#include <future>
#include <pqxx/pqxx>

#include "projections/audit_projector.h"
#include "projections/internal/snapshot_tx.h"
#include "projections/replay.h"

namespace fsm::projections {
namespace {

// Appends to `out` the rows of `table` that differ between the live table
// and its replayed copy in pg_temp (missing on either side, or not equal).
void diff_table(pqxx::transaction_base& tx, const std::string& table, std::size_t max,
                std::vector<Difference>& out) {
  auto rows = tx.exec(
      "SELECT coalesce(l.id, r.id)::text, coalesce(to_jsonb(l)::text, 'null'),"
      " coalesce(to_jsonb(r)::text, 'null') FROM public." +
      table + " l FULL JOIN pg_temp." + table +
      // Rows compared by their text (same session, same settings): cheaper
      // than JSON, and as strict; JSON is made only for differing rows.
      " r ON l.id = r.id WHERE l.id IS NULL OR r.id IS NULL OR l::text <> r::text"
      " ORDER BY 1 LIMIT " +
      std::to_string(max));
  for (const auto& r : rows) out.push_back({table, r[0].c_str(), r[1].c_str(), r[2].c_str()});
}

}  // namespace

VerifyReport verify(const std::string& url, const std::vector<std::string>& names,
                    std::size_t max_differences) {
  const Selection selection = select_projections(names);
  VerifyReport report;
  // The reader streams the log; the writer holds the scratch tables of the
  // fold, a third connection replays and compares the audit log meanwhile.
  // All read in the reader's snapshot, which is also what the live tables
  // are compared in.
  pqxx::connection reader_conn(url);
  pqxx::transaction<pqxx::repeatable_read> reader(reader_conn);
  const std::string snapshot = reader.exec1("SELECT pg_export_snapshot()")[0].c_str();
  internal::SnapshotTx writer(url, snapshot, "");
  auto scratch = [](pqxx::transaction_base& tx, const std::string& t) {
    // No indexes: they are written once and joined by a hash.
    tx.exec("CREATE TEMP TABLE " + t + " (LIKE public." + t +
            " INCLUDING DEFAULTS) ON COMMIT DROP");
  };
  struct AuditCheck {
    long long events = 0;  // one audit row per event
    std::vector<Difference> found;
  };
  std::future<AuditCheck> audit;
  if (selection.has("audit_log")) {
    audit = std::async(std::launch::async, [&] {
      internal::SnapshotTx auditor(url, snapshot, "");
      scratch(*auditor.tx, "audit_log");
      AuditCheck check;
      check.events = replay_audit(*auditor.tx, ReplayLimit{});
      diff_table(*auditor.tx, "audit_log", max_differences + 1, check.found);
      return check;
    });
  }
  for (const auto& t : selection.tables) {
    if (t != "audit_log") scratch(*writer.tx, t);
  }
  BulkOptions options;
  options.selection = selection;
  report.events = bulk_replay(
      reader, [&](const TableBatch& b) { copy_into(*writer.tx, b); }, options);
  std::vector<Difference> found;
  for (const auto& t : projection_tables()) {
    if (selection.has(t) && t != "audit_log") diff_table(*writer.tx, t, max_differences + 1, found);
  }
  if (audit.valid()) {
    auto check = audit.get();
    found.insert(found.end(), check.found.begin(), check.found.end());
    report.events = std::max(report.events, check.events);
  }
  report.truncated = found.size() > max_differences;
  if (report.truncated) found.resize(max_differences);
  report.differences = std::move(found);
  return report;  // the transactions roll back: verify changes nothing
}

}  // namespace fsm::projections

#include "projections/replay.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>

#include "events/pg_event_store.h"
#include "projections/audit_projector.h"
#include "projections/entity_projector.h"
#include "projections/entity_reads.h"

namespace fsm::projections {
namespace {

constexpr const char* kRebuildSchema = "fsm_rebuild";
constexpr const char* kUntilSchema = "fsm_until";

void prepare_replay(pqxx::connection& conn) {
  events::PgEventStore::prepare(conn);
  prepare_entity_projector(conn);
  prepare_audit_projector(conn);
}

}  // namespace

std::optional<std::string> apply_projections(pqxx::transaction_base& tx,
                                             const events::RecordedEvent& e,
                                             const Selection* only) {
  std::optional<std::string> row;
  const EntityTable* t = entity_table_for(e.stream_type);
  if (t && (!only || only->has(t->table))) row = apply_entity_event(tx, e);
  if (!only || only->has("payments")) apply_payment_event(tx, e);
  if (!only || only->has("audit_log")) apply_audit(tx, e);
  return row;
}

const std::vector<std::string>& projection_tables();

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
  prepare_replay(conn);
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
  auto row = tx.exec_params("SELECT " + row_json_sql(table) + " FROM pg_temp." + table.table +
                                " t WHERE t.id = $1::uuid",
                            id);
  tx.abort();  // nothing of this is kept
  if (row.empty()) return std::nullopt;
  return std::string(row[0][0].c_str());
}

const std::vector<std::string>& projection_tables() {
  static const std::vector<std::string> tables = [] {
    std::vector<std::string> t;
    for (const auto& e : entity_tables()) {
      t.push_back(e.table);
      if (e.line_items) t.push_back(e.line_items->table);
    }
    t.push_back("payments");
    t.push_back("audit_log");
    return t;
  }();
  return tables;
}

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

// A repeatable-read transaction in the snapshot `snapshot` (exported by
// another transaction that is still open).
struct SnapshotTx {
  SnapshotTx(const std::string& url, const std::string& snapshot, const std::string& search_path)
      : conn(url) {
    if (!search_path.empty()) conn.set_variable("search_path", search_path);
    tx.emplace(conn);
    tx->exec("SET TRANSACTION SNAPSHOT " + tx->quote(snapshot));
  }
  pqxx::connection conn;
  std::optional<pqxx::transaction<pqxx::repeatable_read>> tx;
};

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
  SnapshotTx writer(url, snapshot, "");
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
      SnapshotTx auditor(url, snapshot, "");
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

namespace {

// Gives the copies in `schema` the live tables' indexes and constraints'
// indexes, under the same names (names are per schema), built once over the
// loaded rows.
void build_indexes(pqxx::transaction_base& tx, const std::string& schema,
                   const std::string& table) {
  const std::string live = "public." + table;
  for (const auto& c : tx.exec_params(
           "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
           " WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x') ORDER BY conname",
           live)) {
    tx.exec("ALTER TABLE " + schema + "." + table + " ADD CONSTRAINT " +
            tx.quote_name(c[0].c_str()) + " " + c[1].c_str());
  }
  for (const auto& i : tx.exec_params(
           "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = $1::regclass"
           " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
           " ORDER BY 1",
           live)) {
    std::string def = i[0].c_str();
    const std::string on = " ON " + live + " ";
    const auto at = def.find(on);
    if (at == std::string::npos) throw std::runtime_error("unexpected index definition: " + def);
    def.replace(at, on.size(), " ON " + schema + "." + table + " ");
    tx.exec(def);
  }
}

// The events committed after `since` (a pg_snapshot's text) and visible now,
// per stream in version order; `since` becomes the current snapshot.
std::vector<events::RecordedEvent> committed_since(pqxx::transaction_base& tx, std::string& since,
                                                   const Selection& selection) {
  const std::string now = tx.exec1("SELECT pg_current_snapshot()::text")[0].c_str();
  auto rows = tx.exec_params(
      std::string("SELECT ") + events::PgEventStore::event_columns() +
          " FROM events WHERE events.tx_id >= pg_snapshot_xmin($1::pg_snapshot)"
          " AND NOT pg_visible_in_snapshot(events.tx_id, $1::pg_snapshot)" +
          selection.stream_filter(tx, " AND ") +
          " ORDER BY events.stream_id, events.stream_version",
      since);
  since = now;
  std::vector<events::RecordedEvent> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(events::PgEventStore::from_row(r));
  return out;
}

// Applies events committed since the last snapshot (per stream in version
// order). A stream that began since has no rows yet: it is folded and copied
// like the bulk phase; the others get the live path's statements.
void catch_up(pqxx::transaction_base& tx, const std::vector<events::RecordedEvent>& events,
              const Selection& selection) {
  BulkFold fold(selection, [&](const TableBatch& b) { copy_into(tx, b); });
  bool fresh = false;
  const std::string* stream = nullptr;
  for (const auto& e : events) {
    if (!stream || *stream != e.stream_id) {
      stream = &e.stream_id;
      fresh = e.version == 1;
    }
    if (fresh) {
      fold.apply(e);
      if (selection.has("audit_log")) apply_audit(tx, e);
    } else {
      apply_projections(tx, e, &selection);
    }
  }
  fold.finish();
}

}  // namespace

RebuildReport rebuild(const std::string& url, const RebuildOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  const Selection selection = select_projections(options.names);
  RebuildReport report;
  const std::string schema = options.until.any() ? kUntilSchema : kRebuildSchema;
  // One rebuild at a time: a second would drop the first one's tables. The
  // lock belongs to this session and goes away with it (also on kill -9).
  pqxx::connection guard(url);
  if (!pqxx::nontransaction(guard)
           .exec1("SELECT pg_try_advisory_lock(hashtextextended('fsm_rebuild', 0))")[0]
           .as<bool>()) {
    throw std::runtime_error("another rebuild is running");
  }
  {
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    // A previous run that died left its half-built tables here: start afresh.
    tx.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    tx.exec("CREATE SCHEMA " + schema);
    for (const auto& t : selection.tables) {
      // Indexes come after the load: built once, not maintained row by row.
      tx.exec("CREATE TABLE " + schema + "." + t + " (LIKE public." + t +
              " INCLUDING ALL EXCLUDING INDEXES)");
    }
    tx.commit();
  }
  const std::string search_path = schema + ", public";
  pqxx::connection conn(url);
  conn.set_variable("search_path", search_path);
  // Bulk phase: one snapshot of the log, streamed by the reader; the rows
  // are committed batch by batch (progress shows in the tables). Meanwhile a
  // connection of its own replays the audit log in the same snapshot with one
  // INSERT ... SELECT and builds its indexes.
  std::string since;
  std::future<long long> audit;
  {
    pqxx::connection reader_conn(url);
    pqxx::transaction<pqxx::repeatable_read> reader(reader_conn);
    since = reader.exec1("SELECT pg_current_snapshot()::text")[0].c_str();
    const std::string snapshot = reader.exec1("SELECT pg_export_snapshot()")[0].c_str();
    std::promise<void> imported;  // broken (ready too) when the import fails
    std::future<void> snapshot_taken = imported.get_future();
    if (selection.has("audit_log")) {
      audit =
          std::async(std::launch::async, [&, snapshot, imported = std::move(imported)]() mutable {
            SnapshotTx auditor(url, snapshot, search_path);
            imported.set_value();
            const long long rows = replay_audit(*auditor.tx, options.until);
            auditor.tx->exec("SET LOCAL maintenance_work_mem = '128MB'");
            build_indexes(*auditor.tx, schema, "audit_log");
            auditor.tx->commit();
            return rows;
          });
    }
    BulkOptions bulk;
    bulk.selection = selection;
    bulk.until = options.until;
    bulk.flush_rows = options.batch_rows;
    if (options.progress) {
      bulk.progress = [&](long long done, long long total) {
        options.progress(done, total, elapsed());
      };
    }
    report.events = bulk_replay(
        reader,
        [&](const TableBatch& b) {
          pqxx::work tx(conn);
          copy_into(tx, b);
          tx.commit();
        },
        bulk);
    // Open until the audit connection has imported the snapshot.
    if (audit.valid()) snapshot_taken.wait();
    reader.commit();
  }
  {
    pqxx::work tx(conn);
    tx.exec("SET LOCAL maintenance_work_mem = '128MB'");
    for (const auto& t : selection.tables) {
      if (t != "audit_log") build_indexes(tx, schema, t);
    }
    tx.commit();
  }
  if (audit.valid()) report.events = std::max(report.events, audit.get());
  report.schema = schema;
  if (options.until.any()) {
    report.seconds = elapsed();
    return report;  // a past state is for reading, never swapped in
  }
  // Catch-up: what committed since the snapshot, event by event with the
  // live path's statements, in rounds while commands keep landing.
  prepare_replay(conn);
  for (int round = 0; round < 10; ++round) {
    pqxx::transaction<pqxx::repeatable_read> tx(conn);
    const auto batch = committed_since(tx, since, selection);
    catch_up(tx, batch, selection);
    tx.commit();
    report.events += static_cast<long long>(batch.size());
    if (batch.size() < 1000) break;
  }
  // The swap: every command writes `streams`, so an EXCLUSIVE lock on it waits
  // for the appends in flight and holds new ones back (reads go on). Then
  // every event is committed: apply the rest and swap in one transaction.
  {
    pqxx::work tx(conn);
    tx.exec("LOCK TABLE public.streams IN EXCLUSIVE MODE");
    const auto rest = committed_since(tx, since, selection);
    catch_up(tx, rest, selection);
    report.events += static_cast<long long>(rest.size());
    for (const auto& t : selection.tables) {
      tx.exec("DROP TABLE public." + t);
      tx.exec("ALTER TABLE " + schema + "." + t + " SET SCHEMA public");
    }
    tx.exec("DROP SCHEMA " + schema);
    tx.commit();
  }
  report.schema = "public";
  report.seconds = elapsed();
  if (options.progress) options.progress(report.events, report.events, report.seconds);
  return report;
}

}  // namespace fsm::projections

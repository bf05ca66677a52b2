// rebuild: blue/green replacement of the read tables from the log.
#include <algorithm>
#include <chrono>
#include <future>
#include <pqxx/pqxx>
#include <stdexcept>

#include "events/event_columns.h"
#include "events/pg_event_store.h"
#include "projections/audit_projector.h"
#include "projections/internal/snapshot_tx.h"
#include "projections/projector.h"
#include "projections/replay.h"

namespace fsm::projections {
namespace {

constexpr const char* kRebuildSchema = "fsm_rebuild";
constexpr const char* kUntilSchema = "fsm_until";

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

// The statements that give a swapped-in copy of `table` the live table's
// triggers (db/008's on automations), enabled as they were: a copy is
// created without them, and dropping the live table drops them.
std::vector<std::string> triggers_of(pqxx::transaction_base& tx, const std::string& table) {
  std::vector<std::string> out;
  for (const auto& t : tx.exec_params(
           "SELECT pg_get_triggerdef(oid), quote_ident(tgname), tgenabled FROM pg_trigger"
           " WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname",
           "public." + table)) {
    out.emplace_back(t[0].c_str());
    const std::string alter = "ALTER TABLE public." + table + " ";
    const std::string name = t[1].c_str(), enabled = t[2].c_str();
    if (enabled == "A") out.push_back(alter + "ENABLE ALWAYS TRIGGER " + name);
    if (enabled == "R") out.push_back(alter + "ENABLE REPLICA TRIGGER " + name);
    if (enabled == "D") out.push_back(alter + "DISABLE TRIGGER " + name);
  }
  return out;
}

// The events committed after `since` (a pg_snapshot's text) and visible now,
// per stream in version order; `since` becomes the current snapshot.
std::vector<events::RecordedEvent> committed_since(pqxx::transaction_base& tx, std::string& since,
                                                   const Selection& selection) {
  const std::string now = tx.exec1("SELECT pg_current_snapshot()::text")[0].c_str();
  static const auto kColumns = events::EventColumns::all();
  auto rows =
      tx.exec_params("SELECT " + kColumns.select_list() +
                         " FROM events WHERE events.tx_id >= pg_snapshot_xmin($1::pg_snapshot)"
                         " AND NOT pg_visible_in_snapshot(events.tx_id, $1::pg_snapshot)" +
                         selection.stream_filter(tx, " AND ") +
                         " ORDER BY events.stream_id, events.stream_version",
                     since);
  since = now;
  std::vector<events::RecordedEvent> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(kColumns.decode(r));
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
            internal::SnapshotTx auditor(url, snapshot, search_path);
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
  events::PgEventStore::prepare(conn);
  prepare_projections(conn);
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
      const auto triggers = triggers_of(tx, t);
      tx.exec("DROP TABLE public." + t);
      tx.exec("ALTER TABLE " + schema + "." + t + " SET SCHEMA public");
      for (const auto& statement : triggers) tx.exec(statement);
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

#include "projections/replay.h"

#include <chrono>
#include <stdexcept>
#include <pqxx/pqxx>

#include "events/pg_event_store.h"
#include "projections/audit_projector.h"
#include "projections/entity_projector.h"
#include "projections/entity_reads.h"

namespace fsm::projections {
namespace {

constexpr int kBatch = 2000;
constexpr const char* kRebuildSchema = "fsm_rebuild";

void prepare_replay(pqxx::connection& conn) {
  events::PgEventStore::prepare(conn);
  prepare_entity_projector(conn);
  prepare_audit_projector(conn);
}

// Replays from `from` to the end of what `horizon` lets `tx` read; returns
// where it stopped and adds to `count`.
events::Checkpoint replay(pqxx::transaction_base& tx, events::Checkpoint from,
                          events::PgEventStore::Horizon horizon, long long& count) {
  for (;;) {
    auto batch = events::PgEventStore::read_all_in(tx, from, kBatch, horizon);
    for (const auto& e : batch.events) apply_projections(tx, e);
    count += static_cast<long long>(batch.events.size());
    from = batch.next;
    if (static_cast<int>(batch.events.size()) < kBatch) return from;
  }
}

}  // namespace

std::optional<std::string> apply_projections(pqxx::transaction_base& tx,
                                             const events::RecordedEvent& e) {
  auto row = apply_entity_event(tx, e);
  apply_audit(tx, e);
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
  for (const auto& e : events) {
    // At the API's precision: an entity shown as created at ...123Z exists
    // as of ...123Z.
    if (std::chrono::floor<std::chrono::milliseconds>(e.recorded_at) > at) break;
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

VerifyReport verify(const std::string& url, std::size_t max_differences) {
  VerifyReport report;
  pqxx::connection conn(url);
  pqxx::transaction<pqxx::repeatable_read> tx(conn);
  create_scratch_tables(tx);
  prepare_replay(conn);
  replay(tx, {}, events::PgEventStore::Horizon::kVisible, report.events);
  for (const auto& t : projection_tables()) {
    auto rows = tx.exec(
        "SELECT coalesce(l.id, r.id)::text, coalesce(to_jsonb(l)::text, 'null'),"
        " coalesce(to_jsonb(r)::text, 'null') FROM public." + t + " l FULL JOIN pg_temp." + t +
        " r ON l.id = r.id WHERE to_jsonb(l) IS DISTINCT FROM to_jsonb(r) ORDER BY 1 LIMIT " +
        std::to_string(max_differences + 1));
    for (const auto& r : rows) {
      if (report.differences.size() >= max_differences) {
        report.truncated = true;
        break;
      }
      report.differences.push_back({t, r[0].c_str(), r[1].c_str(), r[2].c_str()});
    }
  }
  tx.abort();  // verify changes nothing
  return report;
}

RebuildReport rebuild(const std::string& url,
                      const std::function<void(long long, double)>& progress, int batch_size) {
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  RebuildReport report;
  const std::string schema = kRebuildSchema;
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
    for (const auto& t : projection_tables()) {
      tx.exec("CREATE TABLE " + schema + "." + t + " (LIKE public." + t + " INCLUDING ALL)");
    }
    tx.commit();
  }
  pqxx::connection conn(url);
  conn.set_variable("search_path", schema + ", public");
  prepare_replay(conn);
  // Bulk phase, batch by batch, while commands keep landing.
  events::Checkpoint at{};
  for (;;) {
    pqxx::work tx(conn);
    const long long before = report.events;
    long long count = 0;
    auto batch = events::PgEventStore::read_all_in(tx, at, batch_size);
    for (const auto& e : batch.events) apply_projections(tx, e);
    count = static_cast<long long>(batch.events.size());
    at = batch.next;
    tx.commit();
    report.events = before + count;
    if (progress) progress(report.events, elapsed());
    if (count < batch_size) break;
  }
  // The swap: every command writes `streams`, so an EXCLUSIVE lock on it waits
  // for the appends in flight and holds new ones back (reads go on). Then
  // every event is committed: replay the rest and swap in one transaction.
  {
    pqxx::work tx(conn);
    tx.exec("LOCK TABLE public.streams IN EXCLUSIVE MODE");
    at = replay(tx, at, events::PgEventStore::Horizon::kVisible, report.events);
    for (const auto& t : projection_tables()) {
      // The copies' indexes got generated names; give each the name of the
      // live index with the same definition, which migrations may refer to.
      auto names = tx.exec_params(
          "SELECT n.indexname, o.indexname FROM pg_indexes n JOIN pg_indexes o"
          " ON o.schemaname = 'public' AND o.tablename = n.tablename"
          " AND split_part(o.indexdef, ' USING ', 2) = split_part(n.indexdef, ' USING ', 2)"
          " AND (o.indexdef LIKE 'CREATE UNIQUE%') = (n.indexdef LIKE 'CREATE UNIQUE%')"
          " WHERE n.schemaname = $1 AND n.tablename = $2",
          schema, t);
      tx.exec("DROP TABLE public." + t);
      tx.exec("ALTER TABLE " + schema + "." + t + " SET SCHEMA public");
      for (const auto& n : names) {
        if (std::string(n[0].c_str()) != n[1].c_str()) {
          tx.exec("ALTER INDEX public." + tx.quote_name(n[0].c_str()) + " RENAME TO " +
                  tx.quote_name(n[1].c_str()));
        }
      }
    }
    tx.exec("DROP SCHEMA " + schema);
    tx.commit();
  }
  report.seconds = elapsed();
  if (progress) progress(report.events, report.seconds);
  return report;
}

}  // namespace fsm::projections

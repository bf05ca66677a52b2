// Logs written by older code replay to the tables that code projected.
//
// tests/fixtures/old_log_6103bc6 holds a log written over HTTP by commit
// 6103bc6 (before the "one home per aggregate" refactor) with every event
// type it can write, and the read tables it projected live (regenerate with
// tests/compat/write_old_log.sh). Each test loads that log, exactly as
// written (positions, event ids, tx ids, timestamps), into a database
// migrated by today's code, projects it with today's code, and compares
// every read table with the old rows, column by column.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <set>

#include "domain/entity.h"
#include "events/event_columns.h"
#include "projections/replay.h"
#include "support/test_env.h"

namespace fsm::projections {
namespace {

using nlohmann::json;

const std::string kFixture = std::string(FSM_FIXTURES_DIR) + "/old_log_6103bc6";

// Every event type 6103bc6 can write (its domain/entity.cc catalog); the
// fixture must hold each, so a regenerated one cannot quietly cover less.
// clang-format off
const std::set<std::string> kOldEventTypes = {
    "AccountCreated",
    "UserCreated", "UserUpdated", "UserDeleted", "UserPasswordChanged",
    "ClientCreated", "ClientUpdated", "ClientDeleted",
    "PropertyCreated", "PropertyUpdated", "PropertyDeleted",
    "JobCreated", "JobUpdated", "JobStatusChanged", "JobDeleted",
    "VisitCreated", "VisitUpdated", "VisitStatusChanged",
    "EstimateCreated", "EstimateUpdated", "EstimateStatusChanged", "EstimateConverted",
    "InvoiceCreated", "InvoiceUpdated", "InvoiceStatusChanged",
    "InvoicePaymentRecorded", "InvoicePaymentRemoved",
    "InvoiceNumberAssigned"};
// clang-format on

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The rows of a .jsonl file as one JSON array's text.
std::string json_array(const std::vector<std::string>& rows) {
  std::string out = "[";
  for (const auto& r : rows) out += (out.size() > 1 ? "," : "") + r;
  return out + "]";
}

// A table's rows as the fixture stores them (row_to_json, timestamps in
// UTC), by id.
std::map<std::string, std::string> rows_by_id(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> out;
  for (const auto& l : lines) out[json::parse(l).at("id").get<std::string>()] = l;
  return out;
}

std::map<std::string, std::string> table_rows(pqxx::connection& c, const std::string& table) {
  pqxx::work tx(c);
  tx.exec("SET LOCAL TimeZone = 'UTC'");
  std::vector<std::string> lines;
  for (const auto& r : tx.exec("SELECT row_to_json(t)::text FROM " + table + " t ORDER BY id")) {
    lines.push_back(r[0].c_str());
  }
  return rows_by_id(lines);
}

// What differs between two rows of `table`, one line per column.
void describe(const std::string& table, const std::string& id, const std::string& old_row,
              const std::string& new_row, std::vector<std::string>& out) {
  const json o = old_row.empty() ? json(nullptr) : json::parse(old_row);
  const json n = new_row.empty() ? json(nullptr) : json::parse(new_row);
  const std::string where = table + " " + id;
  if (o.is_null() || n.is_null()) {
    out.push_back(where + (o.is_null() ? ": only in the new tables: " + new_row
                                       : ": missing from the new tables; old: " + old_row));
    return;
  }
  const std::size_t before = out.size();
  std::set<std::string> columns;
  for (const auto& [k, v] : o.items()) columns.insert(k);
  for (const auto& [k, v] : n.items()) columns.insert(k);
  for (const auto& k : columns) {
    const json ov = o.contains(k) ? o[k] : json("<no such column>");
    const json nv = n.contains(k) ? n[k] : json("<no such column>");
    if (ov != nv) out.push_back(where + " ." + k + ": old " + ov.dump() + ", new " + nv.dump());
  }
  if (out.size() == before) {
    out.push_back(where + ": same values, different text: old " + old_row + ", new " + new_row);
  }
}

std::string first_difference(const VerifyReport& report) {
  if (report.differences.empty()) return "none";
  const auto& d = report.differences[0];
  return std::to_string(report.differences.size()) + " differences, first: " + d.table + " " +
         d.id + " live " + d.live + " replayed " + d.replayed;
}

class OldLogReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    events_ = lines_of(kFixture + "/events.jsonl");
    ASSERT_FALSE(events_.empty());
    load_log();
  }

  // Stores the old log as it was written. `events` only refuses UPDATE,
  // DELETE and TRUNCATE; its position is an identity column, which an
  // INSERT sets only by OVERRIDING SYSTEM VALUE (a restore's COPY does the
  // same), and the sequence then moves past the last position.
  void load_log() {
    pqxx::connection c(db_.url());
    advance_xids_past_the_log(c);
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO events OVERRIDING SYSTEM VALUE"
        " SELECT * FROM json_populate_recordset(NULL::events, $1::json)",
        json_array(events_));
    tx.exec_params(
        "INSERT INTO streams SELECT * FROM json_populate_recordset(NULL::streams, $1::json)",
        json_array(lines_of(kFixture + "/streams.jsonl")));
    tx.exec(
        "SELECT setval(pg_get_serial_sequence('events', 'global_position'),"
        " max(global_position)) FROM events");
    tx.commit();
  }

  // The log's tx_ids come from the (fresh) cluster that wrote it. Readers
  // take an event only once its tx_id is below every running transaction,
  // and a rebuild's catch-up treats a tx_id its snapshot has not reached as
  // committed since: on a cluster younger than the log (a fresh CI cluster)
  // the events would be in the future. So, as after restoring a dump into a
  // new cluster, move this cluster's transaction ids past the log's.
  void advance_xids_past_the_log(pqxx::connection& c) {
    std::uint64_t last = 0;
    for (const auto& e : events_) {
      last =
          std::max<std::uint64_t>(last, std::stoull(json::parse(e).at("tx_id").get<std::string>()));
    }
    for (;;) {
      pqxx::work tx(c);
      const auto xid = tx.exec1("SELECT pg_current_xact_id()::text::bigint")[0].as<std::uint64_t>();
      tx.commit();
      if (xid > last) return;
    }
  }

  // Every read table of today's code equals the old one, row by row; the
  // differences, one column per line.
  std::vector<std::string> differences_from_the_old_tables() {
    pqxx::connection c(db_.url());
    std::vector<std::string> out;
    const auto& tables = projection_tables();
    for (const auto& f : std::filesystem::directory_iterator(kFixture + "/expected")) {
      const std::string t = f.path().stem();
      if (std::find(tables.begin(), tables.end(), t) == tables.end()) {
        out.push_back(t + ": the old code projected it, today's code has no such read table");
      }
    }
    for (const auto& t : tables) {
      const std::string path = kFixture + "/expected/" + t + ".jsonl";
      if (!std::filesystem::exists(path)) {
        out.push_back(t + ": no old rows in the fixture (a table the old code did not have?)");
        continue;
      }
      const auto old_rows = rows_by_id(lines_of(path));
      const auto new_rows = table_rows(c, t);
      EXPECT_FALSE(old_rows.empty()) << t << ": the fixture should exercise every table";
      std::set<std::string> ids;
      for (const auto& [id, row] : old_rows) ids.insert(id);
      for (const auto& [id, row] : new_rows) ids.insert(id);
      for (const auto& id : ids) {
        const auto o = old_rows.find(id), n = new_rows.find(id);
        const std::string old_row = o == old_rows.end() ? "" : o->second;
        const std::string new_row = n == new_rows.end() ? "" : n->second;
        if (old_row != new_row) describe(t, id, old_row, new_row, out);
      }
    }
    return out;
  }

  static std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (std::size_t i = 0; i < lines.size() && i < 50; ++i) out += "\n  " + lines[i];
    if (lines.size() > 50) out += "\n  ... and " + std::to_string(lines.size() - 50) + " more";
    return out;
  }

  testing::TestDatabase db_;
  std::vector<std::string> events_;
};

TEST_F(OldLogReplayTest, TheFixtureHoldsEveryOldEventTypeAndTodaysCatalogKnowsThem) {
  std::set<std::string> found;
  for (const auto& e : events_) found.insert(json::parse(e).at("event_type").get<std::string>());
  EXPECT_EQ(found, kOldEventTypes);
  const auto known = domain::catalog_event_types();
  for (const auto& type : found) {
    EXPECT_NE(std::find(known.begin(), known.end(), type), known.end())
        << type << " is no longer in the event catalog: /events?type= would refuse it";
  }
}

TEST_F(OldLogReplayTest, RebuildProjectsTheOldLogToTheOldTables) {
  const auto report = rebuild(db_.url());
  EXPECT_EQ(report.events, static_cast<long long>(events_.size()));
  const auto verified = verify(db_.url());
  EXPECT_EQ(verified.events, static_cast<long long>(events_.size()));
  EXPECT_TRUE(verified.differences.empty()) << first_difference(verified);
  const auto differences = differences_from_the_old_tables();
  EXPECT_TRUE(differences.empty())
      << "the rebuilt tables differ from 6103bc6's:" << joined(differences);
}

// The live path (the statements a command runs in its own transaction), one
// event at a time in the order readers follow the log, must agree too: with
// the old tables, and so with verify's bulk replay.
TEST_F(OldLogReplayTest, TheLiveProjectorAppliesTheOldLogToTheOldTables) {
  pqxx::connection c(db_.url());
  prepare_projections(c);
  {
    pqxx::work tx(c);
    const auto columns = events::EventColumns::all();
    for (const auto& row : tx.exec("SELECT " + columns.select_list() +
                                   " FROM events ORDER BY events.tx_id, events.global_position")) {
      apply_projections(tx, columns.decode(row));
    }
    tx.commit();
  }
  const auto verified = verify(db_.url());
  EXPECT_TRUE(verified.differences.empty()) << first_difference(verified);
  const auto differences = differences_from_the_old_tables();
  EXPECT_TRUE(differences.empty())
      << "the live projector's tables differ from 6103bc6's:" << joined(differences);
}

}  // namespace
}  // namespace fsm::projections

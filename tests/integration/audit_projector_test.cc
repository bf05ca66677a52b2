// The audit projection (audit_log_row, in SQL): what each kind of event
// writes, the same through the live statement and the set-based replay.
#include "projections/audit_projector.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/time.h"
#include "common/uuid.h"
#include "events/pg_event_store.h"
#include "support/test_env.h"

namespace fsm::projections {
namespace {

using nlohmann::json;

class AuditProjectorTest : public ::testing::Test {
 protected:
  // Appends one event of `type` with `data` to a job stream and inserts its
  // audit row with the live statement, in the append's transaction.
  void append(const std::string& type, const json& data) {
    pqxx::connection c(db_.url());
    events::PgEventStore::prepare(c);
    prepare_audit_projector(c);
    pqxx::work tx(c);
    events::AppendRequest req;
    req.stream_id = stream_;
    req.stream_type = "job";
    req.expected_version = version_++;
    req.metadata.account_id = account_;
    req.metadata.actor_id = actor_;
    req.metadata.trace_id = "trace-" + type;
    req.events.push_back({new_uuid(), type, 1, data});
    auto outcome = events::PgEventStore::append_in(tx, req);
    for (const auto& e : std::get<events::AppendResult>(outcome).events) apply_audit(tx, e);
    tx.commit();
  }

  // The audit rows, oldest first, without the event's id and time.
  json rows(const std::string& table) {
    pqxx::connection c(db_.url());
    auto r = pqxx::nontransaction(c).exec(
        "SELECT coalesce(jsonb_agg(to_jsonb(a) - 'id' - 'created_at' ORDER BY event_position),"
        " '[]') FROM " +
        table + " a");
    return json::parse(r[0][0].c_str());
  }

  testing::TestDatabase db_;
  std::string account_ = new_uuid(), actor_ = new_uuid(), stream_ = new_uuid();
  int version_ = 0;
};

TEST_F(AuditProjectorTest, EachKindOfEventWritesItsRow) {
  append("JobCreated", {{"title", "Boiler"}, {"status", "draft"}});
  append("JobUpdated", {{"changes", {{"title", "Valve"}}}, {"previous", {{"title", "Boiler"}}}});
  append("JobStatusChanged", {{"from", "draft"},
                              {"to", "scheduled"},
                              {"changes", {{"scheduled_start", "2026-12-01T09:00:00.000Z"}}}});
  append("JobStatusChanged", {{"from", "scheduled"}, {"to", "completed"}});
  append("JobNoted", {{"note", "gate code 4411"}});
  append("JobDeleted", {{"previous", {{"title", "Valve"}, {"status", "completed"}}}});
  const json live = rows("audit_log");
  ASSERT_EQ(live.size(), 6u) << live.dump();
  auto expect = [&](std::size_t i, const char* action, const json& old_value,
                    const json& new_value) {
    SCOPED_TRACE(i);
    EXPECT_EQ(live[i]["action"], action);
    EXPECT_EQ(live[i]["old_value"], old_value);
    EXPECT_EQ(live[i]["new_value"], new_value);
    EXPECT_EQ(live[i]["account_id"], account_);
    EXPECT_EQ(live[i]["actor_id"], actor_);
    EXPECT_EQ(live[i]["entity_id"], stream_);
    EXPECT_EQ(live[i]["entity_type"], "job");
    EXPECT_EQ(live[i]["trace_id"], "trace-" + live[i]["event_type"].get<std::string>());
  };
  expect(0, "insert", nullptr, {{"title", "Boiler"}, {"status", "draft"}});
  expect(1, "update", {{"title", "Boiler"}}, {{"title", "Valve"}});
  expect(2, "update", {{"status", "draft"}},
         {{"status", "scheduled"}, {"scheduled_start", "2026-12-01T09:00:00.000Z"}});
  expect(3, "update", {{"status", "scheduled"}}, {{"status", "completed"}});
  expect(4, "update", nullptr, {{"note", "gate code 4411"}});
  expect(5, "delete", {{"title", "Valve"}, {"status", "completed"}}, nullptr);

  // The replay writes the same rows, created_at included.
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  tx.exec("CREATE TEMP TABLE audit_log (LIKE public.audit_log INCLUDING DEFAULTS)");
  EXPECT_EQ(replay_audit(tx, ReplayLimit{}), 6);
  EXPECT_EQ(tx.exec("SELECT 1 FROM public.audit_log l FULL JOIN pg_temp.audit_log r"
                    " ON l.id = r.id WHERE l::text IS DISTINCT FROM r::text")
                .size(),
            0u);
  tx.exec("TRUNCATE pg_temp.audit_log");
  const long long third =
      tx.exec1("SELECT min(global_position) + 2 FROM events")[0].as<long long>();
  EXPECT_EQ(replay_audit(tx, ReplayLimit{.position = third, .at = std::nullopt}), 3);
}

// recorded_at is the transaction's start, so a later version can carry an
// earlier time: as of an instant, a stream stops at its first event past it.
TEST_F(AuditProjectorTest, AsOfAnInstantAStreamStopsAtItsFirstLaterEvent) {
  append("JobCreated", {{"title", "Boiler"}});
  pqxx::connection early(db_.url());
  events::PgEventStore::prepare(early);
  prepare_audit_projector(early);
  pqxx::work held(early);
  const std::string started = held.exec1("SELECT now()::text")[0].c_str();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  append("JobUpdated", {{"changes", {{"title", "Valve"}}}, {"previous", {{"title", "Boiler"}}}});
  events::AppendRequest req;  // version 3, recorded as of `started`
  req.stream_id = stream_;
  req.stream_type = "job";
  req.expected_version = 2;
  req.metadata.account_id = account_;
  req.events.push_back({new_uuid(), "JobNoted", 1, {{"note", "late"}}});
  const auto outcome = events::PgEventStore::append_in(held, req);
  for (const auto& e : std::get<events::AppendResult>(outcome).events) apply_audit(held, e);
  held.commit();

  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  tx.exec("CREATE TEMP TABLE audit_log (LIKE public.audit_log INCLUDING DEFAULTS)");
  const auto at = parse_rfc3339(tx.exec_params1("SELECT to_char($1::timestamptz AT TIME ZONE 'UTC',"
                                                " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
                                                started)[0]
                                    .c_str());
  ASSERT_TRUE(at);
  EXPECT_EQ(replay_audit(tx, ReplayLimit{.position = std::nullopt, .at = *at}), 1)
      << "version 3 is as old as the instant, but version 2 is past it";
  EXPECT_EQ(tx.exec1("SELECT event_type FROM pg_temp.audit_log")[0].as<std::string>(),
            "JobCreated");
}

}  // namespace
}  // namespace fsm::projections

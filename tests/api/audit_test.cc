// The audit log and history over HTTP: one row per event with who, when and
// what changed; history straight from the log, deleted entities included.
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "events/pg_event_store.h"

#include "api/api_fixture.h"

namespace fsm {
namespace {

using nlohmann::json;
using testing::Headers;

class AuditTest : public testing::ApiTest {};

TEST_F(AuditTest, EveryChangeIsARowWithWhoWhenAndWhat) {
  auto created = call("POST", "/api/v1/clients", admin_, R"({"name":"Ada","phone":"1"})",
                      Headers{{"X-Request-Id", "trace-create-1"}});
  ASSERT_EQ(created.status, 201);
  const std::string id = created.json()["id"];
  ASSERT_EQ(call("PATCH", "/api/v1/clients/" + id, admin_, R"({"phone":"2"})").status, 200);
  ASSERT_EQ(call("DELETE", "/api/v1/clients/" + id, owner_).status, 204);

  auto log = call("GET", "/api/v1/audit-log?entity_id=" + id + "&sort=event_position&order=asc",
                  admin_);
  ASSERT_EQ(log.status, 200) << log.body;
  const json rows = log.json()["data"];
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["action"], "insert");
  EXPECT_EQ(rows[0]["entity_type"], "client");
  EXPECT_EQ(rows[0]["actor_id"], admin_id_);
  EXPECT_EQ(rows[0]["trace_id"], "trace-create-1");
  EXPECT_EQ(rows[0]["new_value"]["name"], "Ada");
  EXPECT_TRUE(rows[0]["old_value"].is_null());
  EXPECT_EQ(rows[1]["action"], "update");
  EXPECT_EQ(rows[1]["old_value"], json({{"phone", "1"}}));
  EXPECT_EQ(rows[1]["new_value"], json({{"phone", "2"}}));
  EXPECT_EQ(rows[2]["action"], "delete");
  EXPECT_EQ(rows[2]["actor_id"], a_.owner_id);
  EXPECT_EQ(rows[2]["old_value"]["phone"], "2");
  EXPECT_LT(rows[0]["event_position"].get<long>(), rows[1]["event_position"].get<long>());

  EXPECT_EQ(call("GET", "/api/v1/audit-log?action=delete", admin_).json()["pagination"]["total"], 1);
  EXPECT_EQ(call("GET", "/api/v1/audit-log?action=upsert", admin_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/audit-log", tech_).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/audit-log?entity_id=" + id, other_).json()["pagination"]["total"],
            0)
      << "another account sees none of it";

  // The history outlives the entity.
  auto history = call("GET", "/api/v1/clients/" + id + "/history", admin_);
  ASSERT_EQ(history.status, 200) << history.body;
  const json events = history.json()["data"];
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ClientCreated");
  EXPECT_EQ(events[2]["type"], "ClientDeleted");
  EXPECT_EQ(events[2]["version"], 3);
  EXPECT_EQ(events[0]["metadata"]["actor_id"], admin_id_);
  EXPECT_EQ(events[0]["metadata"]["trace_id"], "trace-create-1");
  EXPECT_EQ(history.json()["next_after"], events[2]["position"]);
  EXPECT_EQ(call("GET", "/api/v1/clients/" + id + "/history", other_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + id + "/history", admin_).status, 404) << "not a job";
  EXPECT_EQ(call("GET", "/api/v1/clients/" + id + "/history", tech_).status, 403);
}

TEST_F(AuditTest, PasswordsNeverReachTheAuditLog) {
  ASSERT_EQ(call("PATCH", "/api/v1/users/" + tech_id_, admin_,
                 R"({"password":"a brand new secret"})")
                .status,
            200);
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM audit_log WHERE old_value::text LIKE '%secret%'"
                     " OR new_value::text LIKE '%secret%' OR new_value::text LIKE '%argon2%'")[0]
                .as<int>(),
            0);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM audit_log WHERE event_type = 'UserPasswordChanged'")[0]
                .as<int>(),
            1);
  // The old system's runbook queries run unchanged.
  tx.exec("SELECT entity_type, action, created_at FROM audit_log"
          " WHERE entity_type IN ('visit_reminder', 'invoice_followup')"
          " ORDER BY created_at DESC LIMIT 20");
  EXPECT_GT(tx.exec("SELECT * FROM audit_log ORDER BY created_at DESC LIMIT 50").size(), 0u);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM audit_log")[0].as<long>(),
            tx.exec1("SELECT count(*) FROM events")[0].as<long>())
      << "one row per event";
}

}  // namespace
}  // namespace fsm

namespace fsm {
namespace {

class EventsTest : public testing::ApiTest {
 protected:
  // Follows next_after until the log has nothing more; every event once.
  std::vector<json> drain(const std::string& tok, long long& after, const std::string& extra = "") {
    std::vector<json> out;
    for (int guard = 0; guard < 1000; ++guard) {
      auto res = call("GET", "/api/v1/events?limit=2&after=" + std::to_string(after) + extra, tok);
      EXPECT_EQ(res.status, 200) << res.body;
      const json page = res.json();
      for (const auto& e : page["data"]) out.push_back(e);
      after = page["next_after"].get<long long>();
      if (page["data"].empty()) break;
    }
    return out;
  }
};

TEST_F(EventsTest, PagingVisitsEveryEventOfTheAccountOnce) {
  for (int i = 0; i < 3; ++i) post("/api/v1/clients", admin_, {{"name", "C" + std::to_string(i)}});
  pqxx::connection c(db_.url());
  const long expected =
      pqxx::work(c).exec_params1("SELECT count(*) FROM events WHERE account_id = $1::uuid",
                                 a_.account_id)[0].as<long>();
  // /events serves an event once every older transaction in the cluster has
  // ended; tests running in parallel (other databases) may hold one open a
  // while (a verify holds one for its whole run: docs/ARCHITECTURE.md), so
  // read again until the horizon has passed ours.
  long long after = 0;
  std::vector<json> events;
  for (int i = 0; i < 1200; ++i) {
    after = 0;
    events = drain(admin_, after);
    if (static_cast<long>(events.size()) >= expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::set<long long> positions;
  for (const auto& e : events) {
    positions.insert(e["position"].get<long long>());
    EXPECT_EQ(e["metadata"]["account_id"], a_.account_id);
    EXPECT_TRUE(e.contains("recorded_at") && e.contains("stream_type") && e.contains("version"));
  }
  EXPECT_EQ(positions.size(), events.size()) << "no event twice";
  EXPECT_EQ(static_cast<long>(events.size()), expected);
  long long other_after = 0;
  for (const auto& e : drain(other_, other_after)) EXPECT_EQ(e["metadata"]["account_id"], b_.account_id);
  EXPECT_EQ(call("GET", "/api/v1/events?after=" + std::to_string(after), other_).status, 400)
      << "another account's position is not a cursor here";
  EXPECT_EQ(call("GET", "/api/v1/events?type=ClientCreated", admin_).json()["data"].size(), 3u);
  EXPECT_EQ(call("GET", "/api/v1/events?limit=0", admin_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/events", tech_).status, 403);
}

// A transaction that appended but has not committed holds back everything
// after it; once it commits, its event comes first and nothing is skipped.
TEST_F(EventsTest, AHeldOpenTransactionIsNeverSkipped) {
  long long after = 0;
  drain(admin_, after);
  pqxx::connection held(db_.url());
  events::PgEventStore::prepare(held);
  pqxx::work open(held);
  events::AppendRequest req;
  req.stream_id = "01a22200-0000-7000-8000-00000000abcd";
  req.stream_type = "client";
  req.expected_version = 0;
  req.metadata.account_id = a_.account_id;
  req.events.push_back({"01a22200-0000-7000-8000-00000000abce", "ClientCreated", 1,
                        {{"account_id", a_.account_id}, {"name", "Held"}}});
  ASSERT_TRUE(std::holds_alternative<events::AppendResult>(events::PgEventStore::append_in(open, req)));
  const std::string committed = post("/api/v1/clients", admin_, {{"name", "Later"}})["id"];

  // The horizon is the cluster's oldest running transaction, so other work on
  // the cluster (parallel tests) may hold back more than ours; what matters
  // is what comes through, and in which order.
  long long cursor = after;
  std::vector<json> seen = drain(admin_, cursor);
  for (const auto& e : seen) {
    EXPECT_NE(e["stream_id"], committed) << "a later commit came through before the open one";
  }
  open.commit();
  int held_at = -1, committed_at = -1;
  for (int tries = 0; tries < 200 && (held_at < 0 || committed_at < 0); ++tries) {
    for (const auto& e : drain(admin_, cursor)) seen.push_back(e);
    for (std::size_t i = 0; i < seen.size(); ++i) {
      if (seen[i]["stream_id"] == req.stream_id) held_at = static_cast<int>(i);
      if (seen[i]["stream_id"] == committed) committed_at = static_cast<int>(i);
    }
    if (held_at < 0 || committed_at < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(held_at, 0) << "the held event was skipped";
  ASSERT_GE(committed_at, 0);
  EXPECT_LT(held_at, committed_at) << "the held event first";
}

}  // namespace
}  // namespace fsm

namespace fsm {
namespace {

class AsOfTest : public testing::ApiTest {};

TEST_F(AsOfTest, AJobAsItWasBeforeAndAfterATransition) {
  const std::string client = post("/api/v1/clients", admin_, {{"name", "C"}})["id"];
  const std::string job = post("/api/v1/jobs", admin_, {{"client_id", client}, {"title", "J"}})["id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(post("/api/v1/jobs/" + job + "/transition", admin_, {{"status", "scheduled"}}, 200)["status"],
            "scheduled");
  const json events = call("GET", "/api/v1/jobs/" + job + "/history", admin_).json()["data"];
  ASSERT_EQ(events.size(), 2u);
  const std::string created_at = events[0]["recorded_at"], moved_at = events[1]["recorded_at"];
  ASSERT_LT(created_at, moved_at);

  const std::string path = "/api/v1/jobs/" + job + "?as_of=";
  auto before = call("GET", path + created_at, admin_);
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(before.json()["status"], "draft");
  EXPECT_EQ(before.json()["version"], 1);
  auto after = call("GET", path + moved_at, admin_);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.json()["status"], "scheduled");
  EXPECT_EQ(after.json(), call("GET", "/api/v1/jobs/" + job, admin_).json())
      << "the present, asked as of now, is the live row";
  EXPECT_EQ(call("GET", path + "2020-01-01T00:00:00Z", admin_).status, 404) << "not yet created";
  EXPECT_EQ(call("GET", path + "yesterday", admin_).status, 400);
  EXPECT_EQ(call("GET", path + moved_at, tech_).status, 403);
  EXPECT_EQ(call("GET", path + moved_at, other_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + job + "?nope=1", admin_).status, 400);
  // Nothing of the replay is left behind in the live tables.
  pqxx::connection c(db_.url());
  EXPECT_EQ(pqxx::work(c).exec1("SELECT count(*) FROM jobs")[0].as<int>(), 1);
}

}  // namespace
}  // namespace fsm

// The audit log and history over HTTP: one row per event with who, when and
// what changed; history straight from the log, deleted entities included.
#include <functional>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "api/api_fixture.h"
#include "events/pg_event_store.h"

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

// Every /events filter, alone and combined, pages with `after` exactly like
// the unfiltered log read client-side (the filters' placeholders once broke
// the cursor's query after page one: a 500).
TEST_F(EventsTest, EveryFilterPagesWithAndWithoutAfter) {
  const std::string client = post("/api/v1/clients", admin_, {{"name", "C"}})["id"];
  for (int i = 0; i < 2; ++i) post("/api/v1/clients", admin_, {{"name", "D" + std::to_string(i)}});
  const std::string job =
      post("/api/v1/jobs", admin_, {{"client_id", client}, {"title", "J"}})["id"];
  for (const char* to : {"scheduled", "in_progress", "completed"}) {
    post("/api/v1/jobs/" + job + "/transition", admin_, {{"status", to}}, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pqxx::connection c(db_.url());
  const long expected =
      pqxx::work(c)
          .exec_params1("SELECT count(*) FROM events WHERE account_id = $1::uuid", a_.account_id)[0]
          .as<long>();
  std::vector<json> all;
  for (int i = 0; i < 1200 && static_cast<long>(all.size()) < expected; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    long long after = 0;
    all = drain(admin_, after);  // see PagingVisitsEveryEventOfTheAccountOnce
  }
  ASSERT_EQ(static_cast<long>(all.size()), expected);
  // Bounds on event instants (millisecond grid: filtering the answered text agrees).
  const std::string from = all[3]["recorded_at"], to = all[all.size() - 2]["recorded_at"];
  using Keep = std::function<bool(const json&)>;
  const Keep by_type = [](const json& e) { return e["type"] == "JobStatusChanged"; };
  const Keep by_stream = [&](const json& e) { return e["stream_id"] == job; };
  const Keep by_from = [&](const json& e) { return e["recorded_at"].get<std::string>() >= from; };
  const Keep by_to = [&](const json& e) { return e["recorded_at"].get<std::string>() < to; };
  const std::vector<std::pair<std::string, Keep>> filters = {
      {"&type=JobStatusChanged", by_type},
      {"&type=ClientCreated", [](const json& e) { return e["type"] == "ClientCreated"; }},
      {"&stream_id=" + job, by_stream},
      {"&from=" + from, by_from},
      {"&to=" + to, by_to},
      {"&from=" + from + "&to=" + to, [&](const json& e) { return by_from(e) && by_to(e); }},
      {"&stream_id=" + job + "&type=JobStatusChanged",
       [&](const json& e) { return by_stream(e) && by_type(e); }},
  };
  auto positions = [](const std::vector<json>& events) {
    std::vector<long long> out;
    for (const auto& e : events) out.push_back(e["position"].get<long long>());
    return out;
  };
  for (const auto& [filter, keep] : filters) {
    std::vector<json> want;
    for (const auto& e : all) {
      if (keep(e)) want.push_back(e);
    }
    ASSERT_GE(want.size(), 3u) << filter << ": more than one page of 2";
    // With `after`: pages of 2, following next_after to the end.
    long long after = 0;
    EXPECT_EQ(positions(drain(admin_, after, filter)), positions(want)) << filter;
    // Without `after`: the first page, default limit and limit=2.
    auto whole = call("GET", "/api/v1/events?" + filter.substr(1), admin_);
    ASSERT_EQ(whole.status, 200) << filter << " -> " << whole.body;
    EXPECT_EQ(positions(whole.json()["data"].get<std::vector<json>>()), positions(want)) << filter;
    auto first = call("GET", "/api/v1/events?limit=2" + filter, admin_);
    ASSERT_EQ(first.status, 200) << filter << " -> " << first.body;
    EXPECT_EQ(first.json()["data"].size(), 2u) << filter;
    EXPECT_EQ(first.json()["next_after"], want[1]["position"]) << filter;
    // And from the middle, resuming after the first match.
    auto rest = call("GET", "/api/v1/events?after=" + want[0]["position"].dump() + filter, admin_);
    ASSERT_EQ(rest.status, 200) << filter << " -> " << rest.body;
    EXPECT_EQ(rest.json()["data"].size(), want.size() - 1) << filter;
  }
}

// Filters are checked like body fields: an event type, entity_type or action
// that does not exist is a 400 naming it, never an empty page.
TEST_F(AuditTest, UnknownFilterValuesAreRefusedByName) {
  for (const auto& [path, name] : std::vector<std::pair<std::string, std::string>>{
           {"/api/v1/events?type=NoSuchEvent", "type"},
           {"/api/v1/events?type=jobcreated", "type"},
           {"/api/v1/events?after=0&type=Job", "type"},
           {"/api/v1/audit-log?entity_type=spaceship", "entity_type"},
           {"/api/v1/audit-log?entity_type=Job", "entity_type"},
           {"/api/v1/audit-log?action=upsert", "action"}}) {
    auto res = call("GET", path, admin_);
    EXPECT_EQ(res.status, 400) << path << " -> " << res.body;
    EXPECT_EQ(code_of(res), "VALIDATION_ERROR") << path;
    if (res.status == 400) {
      EXPECT_EQ(res.json()["error"]["details"]["issues"][0]["path"], json::array({name})) << path;
    }
  }
  post("/api/v1/clients", admin_, {{"name", "C"}});
  for (const std::string ok :
       {"/api/v1/events?type=ClientCreated", "/api/v1/events?type=InvoicePaymentRecorded",
        "/api/v1/events?type=UserPasswordChanged", "/api/v1/audit-log?entity_type=client",
        "/api/v1/audit-log?entity_type=invoice",
        "/api/v1/audit-log?entity_type=client&action=insert"}) {
    EXPECT_EQ(call("GET", ok, admin_).status, 200) << ok;
  }
  EXPECT_EQ(
      call("GET", "/api/v1/audit-log?entity_type=client", admin_).json()["pagination"]["total"], 1);
}

// History pages like /events (after, limit, next_after) and refuses anything else.
TEST_F(AuditTest, HistoryHonoursAfterAndLimit) {
  const std::string client = post("/api/v1/clients", admin_, {{"name", "C0"}})["id"];
  for (int i = 1; i <= 4; ++i) {
    call("PATCH", "/api/v1/clients/" + client, admin_,
         json{{"name", "C" + std::to_string(i)}}.dump());
  }
  const std::string path = "/api/v1/clients/" + client + "/history";
  const json all = call("GET", path, admin_).json();
  ASSERT_EQ(all["data"].size(), 5u);
  EXPECT_EQ(all["next_after"], all["data"][4]["position"]);
  std::vector<json> paged;
  long long after = 0;
  for (int guard = 0; guard < 10; ++guard) {
    auto res = call("GET", path + "?limit=2&after=" + std::to_string(after), admin_);
    ASSERT_EQ(res.status, 200) << res.body;
    const json page = res.json();
    EXPECT_LE(page["data"].size(), 2u);
    for (const auto& e : page["data"]) paged.push_back(e);
    after = page["next_after"];
    if (page["data"].empty()) break;
  }
  EXPECT_EQ(json(paged), all["data"]);
  auto one = call("GET", path + "?limit=1", admin_).json();
  ASSERT_EQ(one["data"].size(), 1u);
  EXPECT_EQ(one["data"][0]["version"], 1);
  EXPECT_EQ(one["next_after"], all["data"][0]["position"]);
  auto rest = call("GET", path + "?after=" + all["data"][2]["position"].dump(), admin_).json();
  ASSERT_EQ(rest["data"].size(), 2u);
  EXPECT_EQ(rest["data"][0]["version"], 4);
  for (const auto& [q, name] :
       std::vector<std::pair<std::string, std::string>>{{"?limit=0", "limit"},
                                                        {"?limit=1001", "limit"},
                                                        {"?after=-1", "after"},
                                                        {"?after=x", "after"},
                                                        {"?after=999999999", "after"},
                                                        {"?foo=1", "foo"},
                                                        {"?as_of=2026-01-01T00:00:00Z", "as_of"}}) {
    auto res = call("GET", path + q, admin_);
    EXPECT_EQ(res.status, 400) << q << " -> " << res.body;
    if (res.status == 400) {
      EXPECT_EQ(res.json()["error"]["details"]["issues"][0]["path"], json::array({name})) << q;
    }
  }
}

// A route that takes no query parameters refuses any, before it runs (and
// before an Idempotency-Key is claimed): nothing is written.
TEST_F(AuditTest, WriteRoutesRefuseQueryParameters) {
  const std::string client = post("/api/v1/clients", admin_, {{"name", "C"}})["id"];
  const std::vector<std::tuple<std::string, std::string, std::string>> writes = {
      {"POST", "/api/v1/clients?dry_run=1", R"({"name":"D"})"},
      {"PATCH", "/api/v1/clients/" + client + "?force=1", R"({"name":"E"})"},
      {"DELETE", "/api/v1/clients/" + client + "?cascade=1", ""},
      {"POST", "/api/v1/clients/" + client + "/properties?x=1", R"({"address":"1 Main St"})"},
  };
  for (const auto& [method, path, body] : writes) {
    auto res = call(method, path, owner_, body, Headers{{"Idempotency-Key", "q-" + method}});
    EXPECT_EQ(res.status, 400) << method << " " << path << " -> " << res.body;
    EXPECT_EQ(code_of(res), "VALIDATION_ERROR") << method << " " << path;
  }
  auto now = call("GET", "/api/v1/clients/" + client, admin_).json();
  EXPECT_EQ(now["name"], "C");
  EXPECT_EQ(now["version"], 1);
  EXPECT_EQ(call("GET", "/api/v1/clients", admin_).json()["pagination"]["total"], 1);
  // The key was not claimed by the refused request: without the query it runs.
  EXPECT_EQ(call("POST", "/api/v1/clients", owner_, R"({"name":"D"})",
                 Headers{{"Idempotency-Key", "q-POST"}})
                .status,
            201);
}

}  // namespace
}  // namespace fsm

// /api/v1/automations against a started fsm-web: roles, tenants, strict
// bodies, configs and query parameters, run now, history and as_of.
#include <chrono>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "api/api_fixture.h"
#include "common/time.h"
#include "common/uuid.h"

namespace fsm {
namespace {

using nlohmann::json;
using testing::Headers;

class AutomationsApiTest : public testing::ApiTest {
 protected:
  json create(const std::string& tok, const json& body) {
    return post("/api/v1/automations", tok, body);
  }
  static std::string path(const json& a) {
    return "/api/v1/automations/" + a["id"].get<std::string>();
  }
  std::set<std::string> issue_paths(const testing::HttpResponse& res) {
    std::set<std::string> out;
    const json body = res.json();
    for (const auto& i : body["error"]["details"]["issues"]) {
      std::string p;
      for (const auto& part : i["path"]) {
        if (!p.empty()) p += '.';
        p += part.is_string() ? part.get<std::string>() : part.dump();
      }
      out.insert(p);
    }
    return out;
  }
  // `a` is at most a few seconds before `b` (the command's clock, then the
  // database's recording of its event).
  static void expect_shortly_before(const json& a, const json& b) {
    const auto ta = parse_rfc3339(a.get<std::string>()), tb = parse_rfc3339(b.get<std::string>());
    ASSERT_TRUE(ta && tb) << a << " " << b;
    EXPECT_LE(*ta, *tb) << a << " " << b;
    EXPECT_LT(*tb - *ta, std::chrono::seconds(5)) << a << " " << b;
  }
  long total(const std::string& query, const std::string& tok) {
    auto res = call("GET", "/api/v1/automations" + query, tok);
    EXPECT_EQ(res.status, 200) << query << ": " << res.body;
    return res.json()["pagination"]["total"].get<long>();
  }
};

TEST_F(AutomationsApiTest, CreateAnswersTheAutomationWithItsDefaults) {
  auto a = create(admin_, {{"type", "visit_reminder"}});
  EXPECT_TRUE(is_uuid(a["id"].get<std::string>()));
  EXPECT_EQ(a["account_id"], a_.account_id);
  EXPECT_EQ(a["type"], "visit_reminder");
  EXPECT_EQ(a["enabled"], true);
  EXPECT_EQ(a["config"], json({{"hours_before", 24}}));
  EXPECT_TRUE(a["last_run_at"].is_null());
  EXPECT_EQ(a["version"], 1);
  expect_shortly_before(a["next_run_at"], a["created_at"]);  // due at once
  EXPECT_EQ(call("GET", path(a), owner_).json(), a) << "read-your-writes";

  auto f = create(owner_, {{"type", "invoice_followup"},
                           {"enabled", false},
                           {"config", {{"days_overdue", {30, 7}}}},
                           {"next_run_at", "2027-01-01T01:00:00+01:00"}});
  EXPECT_EQ(f["config"], json({{"days_overdue", {7, 30}}}));
  EXPECT_EQ(f["enabled"], false);
  EXPECT_EQ(f["next_run_at"], "2027-01-01T00:00:00.000Z");
}

TEST_F(AutomationsApiTest, RolesAndTenantsAreEnforced) {
  auto a = create(owner_, {{"type", "visit_reminder"}});
  const std::string p = path(a);
  for (const auto& [method, route, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/api/v1/automations", ""},
           {"POST", "/api/v1/automations", R"({"type":"visit_reminder"})"},
           {"GET", p, ""},
           {"PATCH", p, R"({"enabled":false})"},
           {"DELETE", p, ""},
           {"POST", p + "/run", ""},
           {"GET", p + "/history", ""}}) {
    auto res = call(method, route, tech_, body);
    EXPECT_EQ(res.status, 403) << method << " " << route;
    EXPECT_EQ(code_of(res), "FORBIDDEN");
  }
  EXPECT_EQ(call("DELETE", p, admin_).status, 403) << "only the owner deletes";
  for (const auto& [method, body] : std::vector<std::pair<std::string, std::string>>{
           {"GET", ""}, {"PATCH", R"({"enabled":false})"}, {"DELETE", ""}}) {
    EXPECT_EQ(call(method, p, other_, body).status, 404) << method << ": another account's";
  }
  EXPECT_EQ(call("POST", p + "/run", other_).status, 404);
  EXPECT_EQ(call("GET", p + "/history", other_).status, 404);
  EXPECT_EQ(total("", other_), 0);
  const std::string unknown = "/api/v1/automations/" + new_uuid();
  EXPECT_EQ(call("GET", unknown, owner_).status, 404);
  EXPECT_EQ(call("PATCH", unknown, owner_, R"({"enabled":false})").status, 404);
  EXPECT_EQ(call("POST", unknown + "/run", owner_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/automations/not-a-uuid", owner_).status, 404);

  EXPECT_EQ(call("DELETE", p, owner_).status, 204);
  EXPECT_EQ(call("GET", p, owner_).status, 404);
  EXPECT_EQ(call("POST", p + "/run", owner_).status, 404);
  EXPECT_EQ(call("DELETE", p, owner_).status, 404);
}

TEST_F(AutomationsApiTest, BadBodiesAndConfigsAre400AndChangeNothing) {
  auto res = call(
      "POST", "/api/v1/automations", admin_,
      R"({"type":"visit_reminder","config":{"hours_before":200,"days_overdue":[7]},"colour":1})");
  ASSERT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(code_of(res), "VALIDATION_ERROR");
  EXPECT_EQ(issue_paths(res), std::set<std::string>{"colour"}) << "the body first";
  res = call("POST", "/api/v1/automations", admin_,
             R"({"type":"visit_reminder","config":{"hours_before":200,"days_overdue":[7]}})");
  ASSERT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(issue_paths(res),
            (std::set<std::string>{"config.hours_before", "config.days_overdue"}));
  res = call("POST", "/api/v1/automations", admin_,
             R"({"type":"invoice_followup","config":{"days_overdue":[7,7,0]},"enabled":"yes"})");
  ASSERT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(issue_paths(res), std::set<std::string>{"enabled"});
  res = call("POST", "/api/v1/automations", admin_,
             R"({"type":"invoice_followup","config":{"days_overdue":[7,7,0]}})");
  EXPECT_EQ(issue_paths(res),
            (std::set<std::string>{"config.days_overdue.1", "config.days_overdue.2"}));
  EXPECT_EQ(call("POST", "/api/v1/automations", admin_, R"({"type":"daily"})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/automations", admin_, R"({})").status, 400);
  EXPECT_EQ(total("", admin_), 0) << "a refused command changes nothing";

  auto a = create(admin_, {{"type", "invoice_followup"}});
  res = call("PATCH", path(a), admin_, R"({"type":"visit_reminder"})");
  ASSERT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(issue_paths(res), std::set<std::string>{"type"});
  EXPECT_EQ(call("PATCH", path(a), admin_, R"({"config":{"hours_before":2}})").status, 400);
  EXPECT_EQ(call("PATCH", path(a), admin_, R"({"next_run_at":null})").status, 400);
  EXPECT_EQ(call("GET", path(a), admin_).json(), a);
  auto patched =
      call("PATCH", path(a), admin_, R"({"config":{"days_overdue":[3]},"enabled":false})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["config"], json({{"days_overdue", {3}}}));
  EXPECT_EQ(patched.json()["version"], 2);
}

TEST_F(AutomationsApiTest, ListsFilterByTypeAndEnabledAndRefuseWhatTheyDoNotKnow) {
  create(admin_, {{"type", "visit_reminder"}, {"next_run_at", "2027-01-03T00:00:00Z"}});
  create(admin_,
         {{"type", "visit_reminder"}, {"enabled", false}, {"next_run_at", "2027-01-01T00:00:00Z"}});
  create(admin_, {{"type", "invoice_followup"}, {"next_run_at", "2027-01-02T00:00:00Z"}});
  EXPECT_EQ(total("", admin_), 3);
  EXPECT_EQ(total("?type=visit_reminder", admin_), 2);
  EXPECT_EQ(total("?enabled=false", admin_), 1);
  EXPECT_EQ(total("?enabled=true&type=visit_reminder", owner_), 1);
  const json page = call("GET", "/api/v1/automations?limit=2", admin_).json();
  ASSERT_EQ(page["data"].size(), 2u);
  EXPECT_EQ(page["data"][0]["next_run_at"], "2027-01-01T00:00:00.000Z") << "next to run first";
  EXPECT_EQ(page["pagination"]["total"], 3);
  for (const std::string q :
       {"?enabled=yes", "?type=daily", "?status=on", "?account_id=x", "?sort=config", "?limit=0"}) {
    auto res = call("GET", "/api/v1/automations" + q, admin_);
    EXPECT_EQ(res.status, 400) << q;
    EXPECT_EQ(code_of(res), "VALIDATION_ERROR") << q;
  }
  EXPECT_EQ(call("GET", "/api/v1/automations/" + new_uuid() + "?page=1", admin_).status, 400);
}

TEST_F(AutomationsApiTest, RunNowMakesItDueAndShowsInHistoryAuditAndAsOf) {
  auto a = create(
      admin_,
      {{"type", "invoice_followup"}, {"enabled", false}, {"next_run_at", "2030-01-01T00:00:00Z"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto stale = call("POST", path(a) + "/run", admin_, "", {{"If-Match", "5"}});
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.json()["error"]["details"]["actual_version"], 1);
  const Headers key = {{"Idempotency-Key", "run-1"}};
  auto ran = call("POST", path(a) + "/run", admin_, "", key);
  ASSERT_EQ(ran.status, 200) << ran.body;
  const json run = ran.json();
  EXPECT_EQ(run["version"], 2);
  EXPECT_EQ(run["enabled"], false) << "a disabled automation is made due too";
  expect_shortly_before(run["next_run_at"], run["updated_at"]);  // due now
  auto again = call("POST", path(a) + "/run", admin_, "", key);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  EXPECT_EQ(call("GET", path(a), admin_).json()["version"], 2) << "the replay appended nothing";

  auto history = call("GET", path(a) + "/history", owner_);
  ASSERT_EQ(history.status, 200) << history.body;
  const json events = history.json()["data"];
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "AutomationCreated");
  EXPECT_EQ(events[1]["type"], "AutomationRunRequested");
  EXPECT_EQ(events[1]["metadata"]["actor_id"], admin_id_);
  EXPECT_EQ(events[1]["data"]["changes"]["next_run_at"], run["next_run_at"]);

  const json log =
      call("GET", "/api/v1/audit-log?entity_type=automation&sort=event_position&order=asc", admin_)
          .json()["data"];
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["event_type"], "AutomationRunRequested");
  EXPECT_EQ(log[1]["actor_id"], admin_id_);

  const std::string created_at = events[0]["recorded_at"];
  auto then = call("GET", path(a) + "?as_of=" + created_at, admin_);
  ASSERT_EQ(then.status, 200) << then.body;
  EXPECT_EQ(then.json(), a) << "as it was created";
  EXPECT_EQ(
      call("GET", path(a) + "?as_of=" + events[1]["recorded_at"].get<std::string>(), owner_).json(),
      run);
  EXPECT_EQ(call("GET", path(a) + "?as_of=2020-01-01T00:00:00Z", admin_).status, 404);
  EXPECT_EQ(call("POST", path(a) + "/run?now=1", admin_).status, 400);
}

}  // namespace
}  // namespace fsm

// /api/v1/jobs and visits: state machines over HTTP, references inside the
// account, what a tech sees and may do, and concurrency on one job.
#include <barrier>
#include <pqxx/pqxx>
#include <thread>

#include "api/api_fixture.h"
#include "common/uuid.h"

namespace fsm {
namespace {

using nlohmann::json;
using testing::Headers;

class JobsTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    client_ = post("/api/v1/clients", admin_, {{"name", "Client"}})["id"];
  }

  json job(const json& extra = json::object()) {
    json body = {{"client_id", client_}, {"title", "Fix the boiler"}};
    body.update(extra);
    return post("/api/v1/jobs", admin_, body);
  }
  std::string id_of(const json& j) { return j["id"].get<std::string>(); }

  json visit(const std::string& job_id, const json& extra = json::object()) {
    json body = {{"scheduled_start", "2026-12-01T09:00:00+01:00"},
                 {"scheduled_end", "2026-12-01T11:00:00+01:00"}};
    body.update(extra);
    return post("/api/v1/jobs/" + job_id + "/visits", admin_, body);
  }

  testing::HttpResponse move(const std::string& kind, const std::string& id,
                             const std::string& tok, const json& body, Headers h = {}) {
    return call("POST", "/api/v1/" + kind + "/" + id + "/transition", tok, body.dump(), h);
  }

  std::string client_;
};

TEST_F(JobsTest, CreateStartsADraftWithDefaults) {
  auto j = job({{"description", "Noisy"}, {"scheduled_start", "2026-12-01T08:00:00-05:00"}});
  EXPECT_EQ(j["status"], "draft");
  EXPECT_EQ(j["priority"], "normal");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["client_id"], client_);
  EXPECT_TRUE(j["property_id"].is_null());
  EXPECT_EQ(j["scheduled_start"], "2026-12-01T13:00:00.000Z");
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + id_of(j), admin_).json(), j);
}

TEST_F(JobsTest, ReferencesMustBeLiveEntitiesOfTheAccount) {
  auto foreign_client = post("/api/v1/clients", other_, {{"name", "B's"}});
  auto refused = call("POST", "/api/v1/jobs", admin_,
                      json{{"client_id", foreign_client["id"]}, {"title", "t"}}.dump());
  ASSERT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(refused.json()["error"]["details"]["issues"][0]["path"][0], "client_id");
  auto other_client = post("/api/v1/clients", admin_, {{"name", "Other"}});
  auto prop = post("/api/v1/clients/" + id_of(other_client) + "/properties", admin_,
                   {{"address", "1 Main St"}});
  auto wrong_property = call("POST", "/api/v1/jobs", admin_,
                             json{{"client_id", client_}, {"property_id", prop["id"]},
                                  {"title", "t"}}
                                 .dump());
  EXPECT_EQ(wrong_property.status, 400) << "the property belongs to another client";
  auto backwards = call("POST", "/api/v1/jobs", admin_,
                        json{{"client_id", client_},
                             {"title", "t"},
                             {"scheduled_start", "2026-12-01T10:00:00Z"},
                             {"scheduled_end", "2026-12-01T09:00:00Z"}}
                            .dump());
  EXPECT_EQ(backwards.status, 400);
  auto jobs = call("GET", "/api/v1/jobs", admin_).json();
  EXPECT_EQ(jobs["pagination"]["total"], 0) << "refused commands store nothing";
}

TEST_F(JobsTest, TheLifecycleFollowsTheStateMachine) {
  const std::string id = id_of(job());
  EXPECT_EQ(code_of(move("jobs", id, admin_, {{"status", "completed"}})), "INVALID_TRANSITION");
  EXPECT_EQ(code_of(move("jobs", id, admin_, {{"status", "flying"}})), "VALIDATION_ERROR");
  int version = 1;
  for (const char* to : {"quoted", "draft", "scheduled", "in_progress", "completed"}) {
    auto res = move("jobs", id, admin_, {{"status", to}});
    ASSERT_EQ(res.status, 200) << to << ": " << res.body;
    EXPECT_EQ(res.json()["status"], to);
    EXPECT_EQ(res.json()["version"], ++version);
  }
  // No invoice references the job, so it cannot be invoiced.
  auto invoiced = move("jobs", id, admin_, {{"status", "invoiced"}});
  EXPECT_EQ(invoiced.status, 400);
  EXPECT_EQ(code_of(invoiced), "INVALID_TRANSITION");
  EXPECT_EQ(move("jobs", id, tech_, {{"status", "cancelled"}}).status, 403);
  auto stale = move("jobs", id, admin_, {{"status", "invoiced"}}, {{"If-Match", "2"}});
  ASSERT_EQ(stale.status, 409);
  EXPECT_EQ(stale.json()["error"]["details"]["actual_version"], version);
}

TEST_F(JobsTest, OnlyTheOwnerDeletesAndOnlyDrafts) {
  const std::string id = id_of(job());
  EXPECT_EQ(call("DELETE", "/api/v1/jobs/" + id, admin_).status, 403);
  move("jobs", id, admin_, {{"status", "scheduled"}});
  EXPECT_EQ(code_of(call("DELETE", "/api/v1/jobs/" + id, owner_)), "INVALID_TRANSITION");
  move("jobs", id, admin_, {{"status", "cancelled"}});
  move("jobs", id, admin_, {{"status", "draft"}});
  EXPECT_EQ(call("DELETE", "/api/v1/jobs/" + id, owner_).status, 204);
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + id, owner_).status, 404);

  const std::string with_visit = id_of(job());
  visit(with_visit);
  EXPECT_EQ(call("DELETE", "/api/v1/jobs/" + with_visit, owner_).status, 409);
}

TEST_F(JobsTest, ClientsAndPropertiesInUseAreNotDeleted) {
  auto prop = post("/api/v1/clients/" + client_ + "/properties", admin_, {{"address", "2 Elm"}});
  const std::string id = id_of(job({{"property_id", prop["id"]}}));
  EXPECT_EQ(call("DELETE", "/api/v1/properties/" + id_of(prop), owner_).status, 409);
  EXPECT_EQ(call("DELETE", "/api/v1/clients/" + client_, owner_).status, 409);
  ASSERT_EQ(call("DELETE", "/api/v1/jobs/" + id, owner_).status, 204);
  // With its jobs gone, the client goes and takes its properties along.
  ASSERT_EQ(call("DELETE", "/api/v1/clients/" + client_, owner_).status, 204);
  EXPECT_EQ(call("GET", "/api/v1/properties/" + id_of(prop), owner_).status, 404);
}

TEST_F(JobsTest, ListsFilterByStatusAndRefuseUnknownValues) {
  job();
  const std::string scheduled = id_of(job({{"priority", "urgent"}}));
  move("jobs", scheduled, admin_, {{"status", "scheduled"}});
  auto res = call("GET", "/api/v1/jobs?status=scheduled", admin_);
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_EQ(res.json()["data"].size(), 1u);
  EXPECT_EQ(res.json()["data"][0]["id"], scheduled);
  EXPECT_EQ(call("GET", "/api/v1/jobs?priority=urgent", admin_).json()["pagination"]["total"], 1);
  EXPECT_EQ(call("GET", "/api/v1/jobs?client_id=" + client_, admin_).json()["pagination"]["total"],
            2);
  EXPECT_EQ(call("GET", "/api/v1/jobs?status=bogus", admin_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/jobs?client_id=42", admin_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/jobs?sort=description", admin_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/jobs", other_).json()["pagination"]["total"], 0);
}

TEST_F(JobsTest, ATechSeesOnlyTheJobsAndVisitsAssignedToThem) {
  const std::string mine = id_of(job({{"title", "mine"}}));
  const std::string theirs = id_of(job({{"title", "theirs"}}));
  id_of(job({{"title", "nobody's"}}));
  auto v1 = visit(mine, {{"assigned_user_id", tech_id_}});
  auto v2 = visit(theirs, {{"assigned_user_id", tech2_id_}});

  auto jobs = call("GET", "/api/v1/jobs", tech_).json();
  ASSERT_EQ(jobs["pagination"]["total"], 1);
  EXPECT_EQ(jobs["data"][0]["id"], mine);
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + mine, tech_).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + theirs, tech_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + theirs + "/visits", tech_).status, 404);
  auto visits = call("GET", "/api/v1/visits", tech_).json();
  ASSERT_EQ(visits["pagination"]["total"], 1);
  EXPECT_EQ(visits["data"][0]["id"], v1["id"]);
  EXPECT_EQ(call("GET", "/api/v1/visits/" + id_of(v2), tech_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/visits", admin_).json()["pagination"]["total"], 2);

  // Techs change nothing but their own visits.
  EXPECT_EQ(call("POST", "/api/v1/jobs", tech_, json{{"client_id", client_}, {"title", "x"}}.dump())
                .status,
            403);
  EXPECT_EQ(call("PATCH", "/api/v1/jobs/" + mine, tech_, R"({"title":"x"})").status, 403);
  EXPECT_EQ(call("POST", "/api/v1/jobs/" + mine + "/visits", tech_, "{}").status, 403);
  EXPECT_EQ(move("visits", id_of(v2), tech_, {{"status", "arrived"}}, {{"If-Match", "1"}}).status,
            404)
      << "another tech's visit does not exist for this tech, whatever the If-Match";
  EXPECT_EQ(call("PATCH", "/api/v1/visits/" + id_of(v2), tech_, R"({"tech_notes":"x"})").status,
            404);
  EXPECT_EQ(call("PATCH", "/api/v1/visits/" + id_of(v1), tech_,
                 R"({"scheduled_end":"2026-12-02T10:00:00Z"})")
                .status,
            403);
  auto notes = call("PATCH", "/api/v1/visits/" + id_of(v1), tech_, R"({"tech_notes":"gate code 42"})");
  ASSERT_EQ(notes.status, 200) << notes.body;
  EXPECT_EQ(notes.json()["tech_notes"], "gate code 42");
}

TEST_F(JobsTest, ATechWalksTheirVisitThroughTheDay) {
  const std::string j = id_of(job());
  const std::string unassigned = id_of(visit(j));
  EXPECT_EQ(code_of(move("visits", unassigned, admin_, {{"status", "arrived"}})),
            "INVALID_TRANSITION")
      << "arriving needs an assignee";
  const std::string v = id_of(visit(j, {{"assigned_user_id", tech_id_}}));
  auto arrived = move("visits", v, tech_, {{"status", "arrived"}});
  ASSERT_EQ(arrived.status, 200) << arrived.body;
  EXPECT_TRUE(arrived.json()["arrived_at"].is_string());
  EXPECT_TRUE(arrived.json()["completed_at"].is_null());
  EXPECT_EQ(move("visits", v, tech_, {{"status", "completed"}}).status, 400);
  EXPECT_EQ(move("visits", v, tech_, {{"status", "in_progress"}}).status, 200);
  auto done = move("visits", v, tech_, {{"status", "completed"}, {"tech_notes", "replaced valve"}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_TRUE(done.json()["completed_at"].is_string());
  EXPECT_EQ(done.json()["tech_notes"], "replaced valve");
  EXPECT_EQ(done.json()["version"], 4);
  EXPECT_EQ(code_of(move("visits", v, admin_, {{"status", "cancelled"}})), "INVALID_TRANSITION");
  // The schedule of a completed visit is history.
  EXPECT_EQ(code_of(call("PATCH", "/api/v1/visits/" + v, admin_,
                         R"({"scheduled_start":"2026-12-01T07:00:00Z"})")),
            "IMMUTABLE_ENTITY");
}

TEST_F(JobsTest, VisitsAreCheckedAndScheduled) {
  const std::string j = id_of(job());
  auto backwards = call("POST", "/api/v1/jobs/" + j + "/visits", admin_,
                        json{{"scheduled_start", "2026-12-01T10:00:00Z"},
                             {"scheduled_end", "2026-12-01T10:00:00Z"}}
                            .dump());
  EXPECT_EQ(backwards.status, 400) << "end after start";
  auto foreign_user = call("POST", "/api/v1/jobs/" + j + "/visits", admin_,
                           json{{"scheduled_start", "2026-12-01T09:00:00Z"},
                                {"scheduled_end", "2026-12-01T10:00:00Z"},
                                {"assigned_user_id", b_.owner_id}}
                               .dump());
  EXPECT_EQ(foreign_user.status, 400) << foreign_user.body;
  EXPECT_EQ(call("POST", "/api/v1/jobs/" + new_uuid() + "/visits", admin_,
                 json{{"scheduled_start", "2026-12-01T09:00:00Z"},
                      {"scheduled_end", "2026-12-01T10:00:00Z"}}
                     .dump())
                .status,
            404);
  // Three visits: 1 Dec 08-10 UTC, 2 Dec 08-10, 3 Dec 08-10 (tech).
  visit(j, {{"scheduled_start", "2026-12-01T08:00:00Z"}, {"scheduled_end", "2026-12-01T10:00:00Z"}});
  auto second = visit(j, {{"scheduled_start", "2026-12-02T08:00:00Z"},
                          {"scheduled_end", "2026-12-02T10:00:00Z"}});
  visit(j, {{"scheduled_start", "2026-12-03T08:00:00Z"},
            {"scheduled_end", "2026-12-03T10:00:00Z"},
            {"assigned_user_id", tech_id_}});
  auto day2 = call("GET", "/api/v1/visits?from=2026-12-02T00:00:00Z&to=2026-12-03T00:00:00Z", admin_);
  ASSERT_EQ(day2.status, 200) << day2.body;
  ASSERT_EQ(day2.json()["data"].size(), 1u);
  EXPECT_EQ(day2.json()["data"][0]["id"], second["id"]);
  auto all = call("GET", "/api/v1/jobs/" + j + "/visits", admin_).json();
  ASSERT_EQ(all["data"].size(), 3u);
  EXPECT_EQ(all["data"][0]["scheduled_start"], "2026-12-01T08:00:00.000Z") << "earliest first";
  EXPECT_EQ(call("GET", "/api/v1/visits?assigned_user_id=" + tech_id_, admin_)
                .json()["pagination"]["total"],
            1);
  EXPECT_EQ(call("GET", "/api/v1/visits?from=yesterday", admin_).status, 400);
}

TEST_F(JobsTest, ConcurrentUnconditionalPatchesAreAllCounted) {
  const std::string id = id_of(job());
  constexpr int kN = 10;
  std::barrier start(kN);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto res = call("PATCH", "/api/v1/jobs/" + id, admin_,
                      json{{"description", "writer " + std::to_string(i)}}.dump());
      if (res.status == 200) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kN) << "unconditional writes queue on the stream; none is lost";
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + id, admin_).json()["version"], 1 + ok.load());
}

// A new job share-locks its client's stream; deleting the client takes it
// exclusively. Whatever the interleaving, no job may outlive its client.
TEST_F(JobsTest, AClientIsNeverDeletedUnderANewJob) {
  for (int round = 0; round < 8; ++round) {
    const std::string c = post("/api/v1/clients", admin_, {{"name", "racer"}})["id"];
    std::barrier start(2);
    int job_status = 0, delete_status = 0;
    std::thread creator([&] {
      start.arrive_and_wait();
      job_status =
          call("POST", "/api/v1/jobs", admin_, json{{"client_id", c}, {"title", "t"}}.dump()).status;
    });
    std::thread deleter([&] {
      start.arrive_and_wait();
      delete_status = call("DELETE", "/api/v1/clients/" + c, owner_).status;
    });
    creator.join();
    deleter.join();
    EXPECT_TRUE((job_status == 201 && delete_status == 409) ||
                (job_status == 400 && delete_status == 204))
        << "job " << job_status << ", delete " << delete_status;
  }
  pqxx::connection conn(db_.url());
  pqxx::read_transaction tx(conn);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM jobs j WHERE NOT EXISTS"
                     " (SELECT 1 FROM clients c WHERE c.id = j.client_id)")[0]
                .as<long>(),
            0);
}

}  // namespace
}  // namespace fsm

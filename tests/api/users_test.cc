// /api/v1/users: who may manage whom, passwords outside the log, uniqueness.
#include <pqxx/pqxx>

#include "api/api_fixture.h"
#include "common/uuid.h"

namespace fsm {
namespace {

using nlohmann::json;

class UsersTest : public testing::ApiTest {
 protected:
  std::string path(const std::string& id) { return "/api/v1/users/" + id; }
};

TEST_F(UsersTest, CreateAnswersTheUserWithoutAnySecret) {
  auto u = post("/api/v1/users", admin_,
                {{"email", " New.Tech@A.test "}, {"full_name", "New Tech"}, {"role", "tech"},
                 {"password", "a long password"}, {"phone", "555"}});
  EXPECT_EQ(u["email"], "new.tech@a.test");
  EXPECT_EQ(u["role"], "tech");
  EXPECT_EQ(u["account_id"], a_.account_id);
  EXPECT_EQ(u["version"], 1);
  EXPECT_FALSE(u.contains("password"));
  EXPECT_FALSE(u.contains("password_hash"));
  // The log holds the creation, never the password or its hash.
  pqxx::connection conn(db_.url());
  pqxx::read_transaction tx(conn);
  auto data = tx.exec_params1("SELECT string_agg(data::text, ' ') FROM events WHERE stream_id = $1",
                              u["id"].get<std::string>())[0]
                  .as<std::string>();
  EXPECT_EQ(data.find("a long password"), std::string::npos);
  EXPECT_EQ(data.find("argon2"), std::string::npos);
  testing::HttpClient c(web_->port());
  auto login = c.request("POST", "/api/v1/auth/login",
                         json{{"email", "new.tech@a.test"}, {"password", "a long password"}}.dump());
  EXPECT_EQ(login.status, 200) << login.body;
}

TEST_F(UsersTest, EmailIsUniquePerAccountIgnoringCase) {
  auto dup = call("POST", "/api/v1/users", owner_,
                  json{{"email", "TECH@a.test"}, {"full_name", "x"}, {"role", "tech"},
                       {"password", kPw}}
                      .dump());
  EXPECT_EQ(dup.status, 409) << dup.body;
  EXPECT_EQ(code_of(dup), "CONFLICT");
  // Another account may use the same address.
  post("/api/v1/users", other_,
       {{"email", "tech@a.test"}, {"full_name", "x"}, {"role", "tech"}, {"password", kPw}});
}

TEST_F(UsersTest, RolesAndBodiesAreChecked) {
  EXPECT_EQ(call("GET", "/api/v1/users", tech_).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/users", tech_, "{}").status, 403);
  auto owner2 = call("POST", "/api/v1/users", owner_,
                     json{{"email", "o2@a.test"}, {"full_name", "x"}, {"role", "owner"},
                          {"password", kPw}}
                         .dump());
  EXPECT_EQ(owner2.status, 400) << "there is exactly one owner";
  auto weak = call("POST", "/api/v1/users", owner_,
                   json{{"email", "w@a.test"}, {"full_name", "x"}, {"role", "tech"},
                        {"password", "short"}, {"extra", 1}}
                       .dump());
  ASSERT_EQ(weak.status, 400);
  EXPECT_EQ(weak.json()["error"]["details"]["issues"].size(), 2u);
  auto list = call("GET", "/api/v1/users?role=tech&sort=email&order=asc", admin_);
  ASSERT_EQ(list.status, 200) << list.body;
  const json page = list.json();  // a named value: ranging over a temporary's member dangles
  EXPECT_EQ(page["pagination"]["total"], 2);
  for (const auto& u : page["data"]) EXPECT_EQ(u["role"], "tech");
  EXPECT_EQ(call("GET", "/api/v1/users?role=boss", admin_).status, 400);
}

TEST_F(UsersTest, TheOwnerIsProtected) {
  // Admins may not touch the owner; nobody changes the owner's role or removes them.
  auto by_admin = call("PATCH", path(a_.owner_id), admin_, R"({"full_name":"Mallory"})");
  EXPECT_EQ(by_admin.status, 403) << by_admin.body;
  EXPECT_EQ(call("PATCH", path(a_.owner_id), owner_, R"({"role":"tech"})").status, 400);
  EXPECT_EQ(call("DELETE", path(a_.owner_id), owner_).status, 403);
  EXPECT_EQ(call("DELETE", path(tech_id_), admin_).status, 403) << "only the owner deletes";
  auto renamed = call("PATCH", path(a_.owner_id), owner_, R"({"full_name":"The Owner"})");
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.json()["full_name"], "The Owner");
  // Admin may manage the others; a new role applies to the user's open
  // sessions at once (no cached session keeps the old one).
  EXPECT_EQ(call("GET", "/api/v1/users", tech_).status, 403);
  auto promoted = call("PATCH", path(tech_id_), admin_, R"({"role":"admin"})");
  ASSERT_EQ(promoted.status, 200);
  EXPECT_EQ(promoted.json()["role"], "admin");
  EXPECT_EQ(call("GET", "/api/v1/users", tech_).status, 200);
}

TEST_F(UsersTest, ANewPasswordEndsTheOldSessions) {
  const std::string before = tech_;
  EXPECT_EQ(call("GET", "/api/v1/auth/me", before).status, 200);  // looked up, maybe cached
  auto res = call("PATCH", path(tech_id_), admin_, R"({"password":"brand new password"})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json()["version"], 2) << "the change is an event of the user";
  EXPECT_EQ(call("GET", "/api/v1/auth/me", before).status, 401);
  testing::HttpClient c(web_->port());
  EXPECT_EQ(c.request("POST", "/api/v1/auth/login",
                      json{{"email", "tech@a.test"}, {"password", kPw}}.dump())
                .status,
            401);
  EXPECT_EQ(c.request("POST", "/api/v1/auth/login",
                      json{{"email", "tech@a.test"}, {"password", "brand new password"}}.dump())
                .status,
            200);
}

TEST_F(UsersTest, ARemovedUserCanNoLongerSignIn) {
  EXPECT_EQ(call("GET", "/api/v1/auth/me", tech2_).status, 200);
  EXPECT_EQ(call("DELETE", path(tech2_id_), owner_).status, 204);
  EXPECT_EQ(call("GET", "/api/v1/auth/me", tech2_).status, 401);
  EXPECT_EQ(call("GET", path(tech2_id_), owner_).status, 404);
  testing::HttpClient c(web_->port());
  EXPECT_EQ(c.request("POST", "/api/v1/auth/login",
                      json{{"email", "tech2@a.test"}, {"password", kPw}}.dump())
                .status,
            401);
}

TEST_F(UsersTest, AUserWithOpenVisitsIsNotRemoved) {
  auto client = post("/api/v1/clients", admin_, {{"name", "C"}});
  auto job = post("/api/v1/jobs", admin_, {{"client_id", client["id"]}, {"title", "J"}});
  auto visit = post("/api/v1/jobs/" + job["id"].get<std::string>() + "/visits", admin_,
                    {{"scheduled_start", "2026-12-01T09:00:00Z"},
                     {"scheduled_end", "2026-12-01T10:00:00Z"},
                     {"assigned_user_id", tech_id_}});
  auto refused = call("DELETE", path(tech_id_), owner_);
  EXPECT_EQ(refused.status, 409) << refused.body;
  post("/api/v1/visits/" + visit["id"].get<std::string>() + "/transition", admin_,
       {{"status", "cancelled"}}, 200);
  EXPECT_EQ(call("DELETE", path(tech_id_), owner_).status, 204);
}

TEST_F(UsersTest, AnotherAccountsUserIsAlways404) {
  EXPECT_EQ(call("GET", path(tech_id_), other_).status, 404);
  EXPECT_EQ(call("PATCH", path(tech_id_), other_, R"({"full_name":"x"})").status, 404);
  EXPECT_EQ(call("DELETE", path(tech_id_), other_).status, 404);
  EXPECT_EQ(call("GET", path("not-a-uuid"), owner_).status, 404);
  EXPECT_EQ(call("GET", path(new_uuid()), owner_).status, 404);
}

}  // namespace
}  // namespace fsm

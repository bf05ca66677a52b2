// Shared fixture of the resource API tests: a started fsm-web on a fresh
// database with two accounts. Account A has an owner, an admin and two techs;
// account B has its owner. Every test talks HTTP to the server.
#pragma once

#include <gtest/gtest.h>
#include <sodium.h>

#include <memory>
#include <string>

#include "commands/accounts.h"
#include "commands/command_runner.h"
#include "support/test_env.h"

namespace fsm::testing {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    pool_ = std::make_unique<events::PgPool>(db_.url(), 1);
    pool_->add_preparer(commands::prepare);
    hasher_ = std::make_unique<commands::PasswordHasher>(crypto_pwhash_OPSLIMIT_MIN,
                                                         crypto_pwhash_MEMLIMIT_MIN, 1);
    a_ = make_account("a");
    b_ = make_account("b");
    std::map<std::string, std::string> env = {{"DATABASE_URL", db_.url()},
                                              {"FSM_ARGON2_OPSLIMIT", "1"},
                                              {"FSM_ARGON2_MEMLIMIT_KB", "8"},
                                              {"FSM_LOGIN_MAX_PER_IP", "1000"}};
    for (auto& [name, value] : extra_env()) env[name] = value;  // a suite's settings win
    web_ = std::make_unique<WebProcess>(env);
    owner_ = token("owner@a.test");
    other_ = token("owner@b.test");
    admin_id_ = add_user("admin@a.test", "admin");
    tech_id_ = add_user("tech@a.test", "tech");
    tech2_id_ = add_user("tech2@a.test", "tech");
    admin_ = token("admin@a.test");
    tech_ = token("tech@a.test");
    tech2_ = token("tech2@a.test");
  }

  // Settings a test suite adds to the server's environment.
  virtual std::map<std::string, std::string> extra_env() { return {}; }

  commands::CreatedAccount make_account(const std::string& n) {
    auto r = commands::create_account(*pool_, *hasher_,
                                      {"Acct " + n, "owner@" + n + ".test", "Owner", kPw}, "t");
    EXPECT_TRUE(r.ok());
    return *r;
  }

  // A user of account A, created by its owner through the API.
  std::string add_user(const std::string& email, const std::string& role) {
    return post("/api/v1/users", owner_,
                {{"email", email}, {"full_name", role}, {"role", role}, {"password", kPw}})["id"];
  }

  std::string token(const std::string& email) {
    HttpClient c(web_->port());
    auto res =
        c.request("POST", "/api/v1/auth/login", json{{"email", email}, {"password", kPw}}.dump());
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json().value("token", "");
  }

  HttpResponse call(const std::string& method, const std::string& path, const std::string& tok,
                    const std::string& body = "", Headers extra = {}) {
    HttpClient c(web_->port());
    extra.emplace_back("Authorization", "Bearer " + tok);
    return c.request(method, path, body, extra);
  }

  // A POST that must answer `status`; its JSON body.
  json post(const std::string& path, const std::string& tok, const json& body, int status = 201) {
    auto res = call("POST", path, tok, body.dump());
    EXPECT_EQ(res.status, status) << path << ": " << res.body;
    return res.body.empty() ? json() : res.json();
  }

  static std::string code_of(const HttpResponse& res) {
    auto j = json::parse(res.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
  }

  static constexpr const char* kPw = "correct horse battery";
  TestDatabase db_;
  std::unique_ptr<events::PgPool> pool_;
  std::unique_ptr<commands::PasswordHasher> hasher_;
  commands::CreatedAccount a_, b_;
  std::unique_ptr<WebProcess> web_;
  std::string owner_, admin_, tech_, tech2_, other_;
  std::string admin_id_, tech_id_, tech2_id_;
};

}  // namespace fsm::testing

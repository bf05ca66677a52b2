// Login, sessions and rate limits against a started fsm-web.
#include <gtest/gtest.h>
#include <sodium.h>

#include <pqxx/pqxx>
#include <thread>

#include "commands/accounts.h"
#include "commands/command_runner.h"
#include "support/test_env.h"

namespace fsm {
namespace {

using testing::HttpClient;
using testing::WebProcess;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    events::PgPool pool(db_.url(), 1);
    pool.add_preparer(commands::prepare);
    commands::PasswordHasher hasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, 1);
    auto created = commands::create_account(
        pool, hasher, {"Acme", "Owner@Acme.test", "Olga Owner", kPassword}, "setup");
    ASSERT_TRUE(created.ok());
    account_ = *created;
    web_ = std::make_unique<WebProcess>(std::map<std::string, std::string>{
        {"DATABASE_URL", db_.url()},
        {"FSM_ARGON2_OPSLIMIT", "1"},
        {"FSM_ARGON2_MEMLIMIT_KB", "8"}});
  }

  testing::HttpResponse login(HttpClient& c, const std::string& email, const std::string& pw) {
    return c.request("POST", "/api/v1/auth/login",
                     nlohmann::json{{"email", email}, {"password", pw}}.dump());
  }

  static constexpr const char* kPassword = "correct horse battery";
  testing::TestDatabase db_;
  commands::CreatedAccount account_;
  std::unique_ptr<WebProcess> web_;
};

TEST_F(AuthTest, LoginReturnsATokenThatWorksAsBearerAndAsCookie) {
  HttpClient c(web_->port());
  auto res = login(c, "owner@acme.test", kPassword);
  ASSERT_EQ(res.status, 200) << res.body;
  auto body = res.json();
  const std::string token = body["token"];
  EXPECT_GE(token.size(), 43u);  // 256 bits, base64url
  EXPECT_EQ(body["user"]["id"], account_.owner_id);
  EXPECT_EQ(body["user"]["account_id"], account_.account_id);
  EXPECT_EQ(body["user"]["role"], "owner");
  EXPECT_EQ(body["user"]["email"], "owner@acme.test");
  const std::string cookie = res.headers["set-cookie"];
  EXPECT_NE(cookie.find("fsm_session=" + token), std::string::npos);
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Lax"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);

  auto me = c.request("GET", "/api/v1/auth/me", "", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.json()["id"], account_.owner_id);
  auto me_cookie = c.request("GET", "/api/v1/auth/me", "",
                             {{"Cookie", "theme=dark; fsm_session=" + token}});
  EXPECT_EQ(me_cookie.status, 200);
}

TEST_F(AuthTest, WrongPasswordAndUnknownEmailGetTheSameAnswer) {
  HttpClient c(web_->port());
  auto wrong = login(c, "owner@acme.test", "not the password");
  auto unknown = login(c, "nobody@acme.test", "not the password");
  ASSERT_EQ(wrong.status, 401);
  ASSERT_EQ(unknown.status, 401);
  auto a = wrong.json()["error"], b = unknown.json()["error"];
  EXPECT_EQ(a["code"], "INVALID_CREDENTIALS");
  a.erase("traceId");
  b.erase("traceId");
  EXPECT_EQ(a, b);
  EXPECT_EQ(wrong.headers.count("set-cookie"), 0u);
}

TEST_F(AuthTest, LogoutKillsTheToken) {
  HttpClient c(web_->port());
  const std::string token = login(c, "owner@acme.test", kPassword).json()["token"];
  const std::vector<std::pair<std::string, std::string>> bearer = {
      {"Authorization", "Bearer " + token}};
  auto out = c.request("POST", "/api/v1/auth/logout", "", bearer);
  ASSERT_EQ(out.status, 200);
  EXPECT_EQ(out.json()["message"], "ok");
  EXPECT_NE(out.headers["set-cookie"].find("Max-Age=0"), std::string::npos);
  auto after = c.request("GET", "/api/v1/auth/me", "", bearer);
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.json()["error"]["code"], "UNAUTHORIZED");
  EXPECT_EQ(c.request("POST", "/api/v1/auth/logout", "", bearer).status, 401);
}

// Sessions are cached in the process for FSM_SESSION_CACHE_SECONDS; what the
// process itself changes applies at once (above), a revocation made directly
// in the database applies within that time.
TEST_F(AuthTest, ARevocationMadeInTheDatabaseAppliesWithinTheCacheTime) {
  WebProcess web({{"DATABASE_URL", db_.url()},
                  {"FSM_ARGON2_OPSLIMIT", "1"},
                  {"FSM_ARGON2_MEMLIMIT_KB", "8"},
                  {"FSM_SESSION_CACHE_SECONDS", "1"}});
  HttpClient c(web.port());
  const std::string token = login(c, "owner@acme.test", kPassword).json()["token"];
  const std::vector<std::pair<std::string, std::string>> bearer = {
      {"Authorization", "Bearer " + token}};
  ASSERT_EQ(c.request("GET", "/api/v1/auth/me", "", bearer).status, 200);
  {
    pqxx::connection conn(db_.url());
    pqxx::work tx(conn);
    tx.exec("UPDATE sessions SET revoked_at = now()");
    tx.commit();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(c.request("GET", "/api/v1/auth/me", "", bearer).status, 401);
}

TEST_F(AuthTest, MissingOrForgedTokensAreUnauthorized) {
  HttpClient c(web_->port());
  for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {},
           {{"Authorization", "Bearer "}},
           {{"Authorization", "Bearer abc"}},
           {{"Authorization", "Bearer ' OR 1=1 --"}},
           {{"Authorization", "Basic dXNlcjpwYXNz"}},
           {{"Cookie", "fsm_session=" + std::string(43, 'A')}}}) {
    auto res = c.request("GET", "/api/v1/auth/me", "", headers);
    EXPECT_EQ(res.status, 401);
    EXPECT_EQ(res.json()["error"]["code"], "UNAUTHORIZED");
  }
}

TEST_F(AuthTest, BadLoginBodiesAreValidationErrors) {
  HttpClient c(web_->port());
  for (const std::string& body :
       std::vector<std::string>{"", "not json", "[]", R"({"email":"owner@acme.test"})",
                                R"({"email":"owner@acme.test","password":"x","extra":1})",
                                R"({"email":5,"password":"x"})"}) {
    auto res = c.request("POST", "/api/v1/auth/login", body.empty() ? " " : body);
    EXPECT_EQ(res.status, 400) << body;
    EXPECT_EQ(res.json()["error"]["code"], "VALIDATION_ERROR") << body;
  }
}

TEST_F(AuthTest, TheSixthAttemptForOneEmailFromOneAddressIsRateLimited) {
  HttpClient c(web_->port());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login(c, "owner@acme.test", "wrong").status, 401);
  auto limited = login(c, "owner@acme.test", kPassword);  // even the right password
  ASSERT_EQ(limited.status, 429);
  EXPECT_EQ(limited.json()["error"]["code"], "RATE_LIMITED");
  const int retry = std::stoi(limited.headers["retry-after"]);
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 900);
  // The same answer for an email that does not exist: no account is revealed.
  for (int i = 0; i < 5; ++i) login(c, "ghost@acme.test", "wrong");
  EXPECT_EQ(login(c, "ghost@acme.test", "wrong").status, 429);
  // Another email from the same address is still judged on its own.
  EXPECT_EQ(login(c, "other@acme.test", "wrong").status, 401);
}

TEST_F(AuthTest, LoginLogLinesCarryTheTraceIdAndNeverThePassword) {
  HttpClient c(web_->port());
  c.request("POST", "/api/v1/auth/login",
            nlohmann::json{{"email", "owner@acme.test"}, {"password", kPassword}}.dump(),
            {{"X-Request-Id", "login-ok-1"}});
  c.request("POST", "/api/v1/auth/login",
            nlohmann::json{{"email", "owner@acme.test"}, {"password", "wrong-secret-77"}}.dump(),
            {{"X-Request-Id", "login-bad-1"}});
  bool ok_line = false, bad_line = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!(ok_line && bad_line) && std::chrono::steady_clock::now() < deadline) {
    for (const auto& line : web_->log_lines()) {
      const std::string text = line.dump();
      EXPECT_EQ(text.find(kPassword), std::string::npos);
      EXPECT_EQ(text.find("wrong-secret-77"), std::string::npos);
      ok_line = ok_line || (line.value("msg", "") == "Login succeeded" &&
                            line.value("traceId", "") == "login-ok-1");
      bad_line = bad_line || (line.value("msg", "") == "Login failed" &&
                              line.value("traceId", "") == "login-bad-1");
    }
  }
  EXPECT_TRUE(ok_line);
  EXPECT_TRUE(bad_line);
}

}  // namespace
}  // namespace fsm

// Cross-site writes with the session cookie (issue 11 item 5): request bodies
// must be JSON, and a cookie-authenticated POST/PATCH/PUT/DELETE must come from
// an allowed Origin (or say Sec-Fetch-Site: same-origin). Bearer clients are
// not affected.
#include "api/api_fixture.h"

namespace fsm {
namespace {

using nlohmann::json;
using testing::Headers;
using testing::HttpClient;
using testing::HttpResponse;

constexpr const char* kApp = "https://app.example.com";
constexpr const char* kEvil = "https://evil.example";

class CrossSiteTest : public testing::ApiTest {
 protected:
  std::map<std::string, std::string> extra_env() override {
    return {{"FSM_ALLOWED_ORIGINS", std::string(kApp) + ", http://localhost:3000"}};
  }

  // A request as a browser holding the owner's session cookie sends it.
  HttpResponse with_cookie(const std::string& method, const std::string& path,
                           const std::string& body, Headers extra) {
    HttpClient c(web_->port());
    extra.emplace_back("Cookie", "theme=dark; fsm_session=" + owner_);
    return c.request(method, path, body, extra);
  }

  long clients() {
    auto res = call("GET", "/api/v1/clients", owner_);
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json()["pagination"]["total"].get<long>();
  }

  static constexpr const char* kBody = R"({"name":"Mallory's client"})";
};

TEST_F(CrossSiteTest, ABodyThatIsNotJsonIs415AndCreatesNothing) {
  auto plain = call("POST", "/api/v1/clients", owner_, kBody, {{"Content-Type", "text/plain"}});
  EXPECT_EQ(plain.status, 415) << plain.body;
  EXPECT_EQ(code_of(plain), "UNSUPPORTED_MEDIA_TYPE");
  EXPECT_EQ(plain.json()["error"]["traceId"], plain.headers["x-request-id"]);
  // The issue's reproduction: a cross-site text/plain POST riding the cookie.
  auto forged = with_cookie("POST", "/api/v1/clients", kBody,
                            {{"Content-Type", "text/plain"}, {"Origin", kEvil}});
  EXPECT_EQ(forged.status, 415) << forged.body;
  auto form = call("POST", "/api/v1/clients", owner_, "name=x",
                   {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.status, 415);
  auto patch = call("PATCH", "/api/v1/users/" + admin_id_, owner_, R"({"full_name":"x"})",
                    {{"Content-Type", "text/plain;charset=UTF-8"}});
  EXPECT_EQ(patch.status, 415);
  EXPECT_EQ(clients(), 0) << "nothing was created";

  // JSON with a charset is fine; an unknown route or method stays a 404 / 405.
  EXPECT_EQ(call("POST", "/api/v1/clients", owner_, kBody,
                 {{"Content-Type", "application/json; charset=utf-8"}})
                .status,
            201);
  EXPECT_EQ(call("POST", "/api/v1/nothing", owner_, kBody, {{"Content-Type", "text/plain"}}).status,
            404);
  EXPECT_EQ(call("PUT", "/api/v1/clients", owner_, kBody, {{"Content-Type", "text/plain"}}).status,
            405);
  // Login is a POST with a body like any other.
  HttpClient c(web_->port());
  EXPECT_EQ(c.request("POST", "/api/v1/auth/login",
                      json{{"email", "owner@a.test"}, {"password", kPw}}.dump(),
                      {{"Content-Type", "text/plain"}})
                .status,
            415);
}

TEST_F(CrossSiteTest, ACookieWriteFromAnotherSiteIs403AndCreatesNothing) {
  for (const Headers& headers :
       std::vector<Headers>{{{"Origin", kEvil}},
                            {{"Origin", "https://app.example.com.evil.example"}},
                            {{"Origin", "null"}},
                            {{"Sec-Fetch-Site", "cross-site"}},
                            {{"Origin", kEvil}, {"Sec-Fetch-Site", "cross-site"}},
                            {}}) {  // neither header: not a browser; such clients use Bearer
    auto res = with_cookie("POST", "/api/v1/clients", kBody, headers);
    EXPECT_EQ(res.status, 403) << res.body;
    EXPECT_EQ(code_of(res), "FORBIDDEN");
  }
  const std::string user = "/api/v1/users/" + admin_id_;
  EXPECT_EQ(with_cookie("PATCH", user, R"({"full_name":"x"})", {{"Origin", kEvil}}).status, 403);
  EXPECT_EQ(with_cookie("DELETE", user, "", {{"Origin", kEvil}}).status, 403);
  EXPECT_EQ(clients(), 0);
  EXPECT_EQ(call("GET", user, owner_).json()["full_name"], "admin") << "untouched";
}

TEST_F(CrossSiteTest, ACookieWriteFromAnAllowedOriginOrTheSameOriginIsServed) {
  auto allowed = with_cookie("POST", "/api/v1/clients", kBody, {{"Origin", kApp}});
  EXPECT_EQ(allowed.status, 201) << allowed.body;
  auto local = with_cookie("POST", "/api/v1/clients", kBody, {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(local.status, 201) << local.body;
  auto same = with_cookie("POST", "/api/v1/clients", kBody, {{"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(same.status, 201) << same.body;
  EXPECT_EQ(clients(), 3);
  // Reads are not origin-checked.
  EXPECT_EQ(with_cookie("GET", "/api/v1/auth/me", "", {{"Origin", kEvil}}).status, 200);
}

TEST_F(CrossSiteTest, BearerWritesAreNotOriginChecked) {
  auto evil = call("POST", "/api/v1/clients", owner_, kBody, {{"Origin", kEvil}});
  EXPECT_EQ(evil.status, 201) << evil.body;
  auto cross = call("POST", "/api/v1/clients", owner_, kBody, {{"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(cross.status, 201) << cross.body;
  EXPECT_EQ(clients(), 2);
}

TEST_F(CrossSiteTest, ACookieLogoutNeedsAnAllowedOriginToo) {
  auto forged = with_cookie("POST", "/api/v1/auth/logout", "", {{"Origin", kEvil}});
  EXPECT_EQ(forged.status, 403) << forged.body;
  EXPECT_EQ(call("GET", "/api/v1/auth/me", owner_).status, 200) << "the session lives on";
  auto out = with_cookie("POST", "/api/v1/auth/logout", "", {{"Origin", kApp}});
  EXPECT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(call("GET", "/api/v1/auth/me", owner_).status, 401);
}

}  // namespace
}  // namespace fsm

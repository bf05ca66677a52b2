// fsm-web as a black box: a started binary on a free port, real PostgreSQL.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <future>
#include <thread>

#include "events/migrator.h"
#include "support/test_env.h"

namespace fsm {
namespace {

using testing::HttpClient;
using testing::WebProcess;

class WebTest : public ::testing::Test {
 protected:
  testing::TestDatabase db_;
  WebProcess web_{{{"DATABASE_URL", db_.url()}}};
};

TEST_F(WebTest, HealthIsOkWhenTheDatabaseAnswers) {
  HttpClient c(web_.port());
  auto res = c.request("GET", "/api/health");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.headers["content-type"], "application/json; charset=utf-8");
  auto body = res.json();
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["service"], "web");
  EXPECT_EQ(body["checks"]["db"], "ok");
  EXPECT_TRUE(body["ts"].get<std::string>().ends_with("Z"));
  EXPECT_FALSE(res.headers["x-request-id"].empty());
}

TEST_F(WebTest, UnknownRouteIsA404InTheContractsShape) {
  HttpClient c(web_.port());
  auto res = c.request("GET", "/api/v1/no-such-thing", "", {{"X-Request-Id", "req-404"}});
  EXPECT_EQ(res.status, 404);
  auto err = res.json()["error"];
  EXPECT_EQ(err["code"], "NOT_FOUND");
  EXPECT_EQ(err["traceId"], "req-404");
  EXPECT_EQ(res.headers["x-request-id"], "req-404");
}

TEST_F(WebTest, KnownPathWithWrongMethodIsA405WithAllow) {
  HttpClient c(web_.port());
  auto res = c.request("DELETE", "/api/health");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.json()["error"]["code"], "METHOD_NOT_ALLOWED");
  EXPECT_EQ(res.headers["allow"], "GET");
}

TEST_F(WebTest, ASaneRequestIdIsEchoedAndAnythingElseIsReplaced) {
  HttpClient c(web_.port());
  EXPECT_EQ(c.request("GET", "/api/health", "", {{"X-Request-Id", "abc.DEF-123_x:y"}})
                .headers["x-request-id"],
            "abc.DEF-123_x:y");
  for (const std::string& bad : std::vector<std::string>{"has space", std::string(200, 'a'),
                                                          "quote\"inject", "{json}"}) {
    auto id = c.request("GET", "/api/health", "", {{"X-Request-Id", bad}}).headers["x-request-id"];
    EXPECT_NE(id, bad);
    EXPECT_EQ(id.size(), 36u) << "expected a fresh UUID, got " << id;
  }
}

TEST_F(WebTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpClient c(web_.port());
  for (int i = 0; i < 20; ++i) {
    auto res = c.request("GET", "/api/health");
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.headers["connection"], "Keep-Alive");
  }
  EXPECT_FALSE(c.closed_by_server(std::chrono::milliseconds(200)));
}

TEST_F(WebTest, ConnectionCloseIsHonoured) {
  HttpClient c(web_.port());
  auto res = c.request("GET", "/api/health", "", {{"Connection", "close"}});
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.headers["connection"], "Close");
  EXPECT_TRUE(c.closed_by_server());
}

// A HEAD is answered with the headers only: a body after them would be read
// as the start of the next answer on the connection.
TEST_F(WebTest, AHeadAnswerHasNoBodyAndTheConnectionGoesOn) {
  HttpClient c(web_.port());
  c.send_raw("HEAD /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c.read_response(std::chrono::seconds(10), /*bodiless=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 405);
  EXPECT_NE(std::stoul(head->headers["content-length"]), 0u)
      << "the length of the body, though none follows";
  EXPECT_TRUE(head->body.empty());
  auto next = c.request("GET", "/api/health");
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.json()["status"], "ok");
}

// Pipelining: requests sent together, before any answer, are all answered,
// in order, bodies framed by their Content-Length.
TEST_F(WebTest, PipelinedRequestsAreAllAnsweredInOrder) {
  HttpClient c(web_.port());
  c.send_raw(
      "POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 19\r\n\r\n{\"GET /nope\": true}"
      "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  auto posted = c.read_response();
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 405) << "the body is not a request";
  auto health = c.read_response();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->json()["status"], "ok");
  auto head = c.read_response(std::chrono::seconds(10), /*bodiless=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 405);
  auto missing = c.read_response();
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_FALSE(c.closed_by_server(std::chrono::milliseconds(100)));
}

TEST_F(WebTest, ARequestSentByteByByteIsAnswered) {
  HttpClient c(web_.port());
  const std::string request = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const char b : request) c.send_raw(std::string(1, b));
  auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// After an answer that closes the connection, nothing more is read from it.
TEST_F(WebTest, NothingPipelinedAfterConnectionCloseIsAnswered) {
  HttpClient c(web_.port());
  c.send_raw(
      "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  auto first = c.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_FALSE(c.read_response()) << "the connection closes after the first answer";
}

// Framing the server could read two ways is refused, and the connection closed.
TEST_F(WebTest, AmbiguousFramingIsA400) {
  for (const std::string& head :
       {std::string("Content-Length: 2\r\nContent-Length: 20\r\n"),
        std::string("Content-Length: 2, 2\r\n"), std::string("Content-Length: -1\r\n"),
        std::string("Transfer-Encoding: chunked\r\nContent-Length: 2\r\n")}) {
    SCOPED_TRACE(head);
    HttpClient c(web_.port());
    c.send_raw("POST /api/health HTTP/1.1\r\nHost: x\r\n" + head + "\r\n{}");
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_TRUE(c.closed_by_server());
  }
}

// A body over the limit is refused from its Content-Length alone, before it
// is sent, and the connection closed.
TEST_F(WebTest, AContentLengthOverTheLimitIsA413AtOnce) {
  HttpClient c(web_.port());
  c.send_raw(
      "POST /api/v1/clients HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n");
  auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(nlohmann::json::parse(res->body)["error"]["code"], "PAYLOAD_TOO_LARGE");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(WebTest, ABodyOverOneMebibyteIsA413AndTheConnectionIsClosed) {
  for (std::size_t size : {std::size_t{1024 * 1024 + 1}, std::size_t{3 * 1024 * 1024}}) {
    SCOPED_TRACE(size);
    HttpClient c(web_.port());
    c.send_raw("POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Content-Length: " + std::to_string(size) + "\r\n\r\n" + std::string(size, 'a'));
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 413);
    EXPECT_EQ(res->json()["error"]["code"], "PAYLOAD_TOO_LARGE");
    EXPECT_TRUE(c.closed_by_server());
  }
  HttpClient after(web_.port());  // the server is fine afterwards
  EXPECT_EQ(after.request("GET", "/api/health").status, 200);
}

TEST_F(WebTest, AMalformedRequestIsA400AndTheConnectionIsClosed) {
  for (const std::string& junk : std::vector<std::string>{"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                                 "BREW /pot HTTP/1.1\r\n\r\n",
                                 "POST /api/health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "zz\r\n\r\n"}) {
    HttpClient c(web_.port());
    c.send_raw(junk);
    auto res = c.read_response();
    ASSERT_TRUE(res) << junk;
    EXPECT_EQ(res->status, 400) << junk;
    EXPECT_EQ(res->json()["error"]["code"], "VALIDATION_ERROR");
    EXPECT_TRUE(c.closed_by_server());
  }
  HttpClient after(web_.port());
  EXPECT_EQ(after.request("GET", "/api/health").status, 200);
}

// Heads that a proxy in front of us might read another way (RFC 9112's
// MUST-refuse cases): a 400, and the connection is closed.
TEST_F(WebTest, AHeadTwoReadersCouldDisagreeOnIsA400) {
  for (const std::string& junk : std::vector<std::string>{
           "GET /api/health HTTP/1.1\r\n\r\n",  // HTTP/1.1 without Host
           "POST /api/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n"
           "Content-Length: 2\r\n\r\n{}",
           "GET /api/health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
           "GET /api/health HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
           "GET /api/health HTTP/1.1\nHost: x\n\n",
           "GET /api/health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"}) {
    SCOPED_TRACE(junk);
    HttpClient c(web_.port());
    c.send_raw(junk);
    auto res = c.read_response(std::chrono::seconds(3));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(res->json()["error"]["code"], "VALIDATION_ERROR");
    EXPECT_TRUE(c.closed_by_server());
  }
}

// An 8 MB header is refused once the head passes its limit (32 KiB), without
// reading the rest, and the connection is closed.
TEST_F(WebTest, AnOversizedHeadIsA431AndTheConnectionIsClosed) {
  HttpClient c(web_.port());
  std::thread sender([&] {
    c.send_raw("GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " +
               std::string(8 * 1024 * 1024, 'a') + "\r\n\r\n");
  });
  auto res = c.read_response(std::chrono::seconds(5));
  sender.join();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 431);
  EXPECT_EQ(res->json()["error"]["code"], "HEADERS_TOO_LARGE");
  EXPECT_TRUE(c.closed_by_server());
}

// The same parameter twice is refused, whichever the route; so is one a
// route does not take.
TEST_F(WebTest, AQueryParameterGivenTwiceOrNotTakenIsA400) {
  HttpClient c(web_.port());
  auto res = c.request("GET", "/api/v1/clients?limit=1&limit=100");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.json()["error"]["details"]["issues"][0]["path"][0], "limit");
  for (const auto& [path, name] : std::vector<std::pair<std::string, std::string>>{
           {"/api/health?verbose=1", "verbose"}, {"/api/v1/auth/me?x=1", "x"}}) {
    res = c.request("GET", path);
    EXPECT_EQ(res.status, 400) << path;
    EXPECT_EQ(res.json()["error"]["details"]["issues"][0]["path"][0], name) << path;
  }
  res = c.request("POST", "/api/v1/auth/login?next=/", R"({"email":"a@b.c","password":"p"})");
  EXPECT_EQ(res.status, 400);
}

// Two Idempotency-Key headers: which one would a proxy keep? Refused.
TEST_F(WebTest, TwoIdempotencyKeysAreA400) {
  HttpClient c(web_.port());
  auto res = c.request(
      "POST", "/api/v1/clients", R"({"name":"x"})",
      {{"Idempotency-Key", "a"}, {"Idempotency-Key", "b"}, {"Authorization", "Bearer whatever"}});
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.json()["error"]["code"], "VALIDATION_ERROR");
}

TEST_F(WebTest, EachRequestWritesOneJsonAccessLogLine) {
  HttpClient c(web_.port());
  c.request("GET", "/api/health", "", {{"X-Request-Id", "log-probe-1"}});
  c.request("GET", "/api/v1/missing", "", {{"X-Request-Id", "log-probe-2"}});
  std::vector<nlohmann::json> found;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (found.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    found.clear();
    for (const auto& line : web_.log_lines()) {
      if (line.value("msg", "") == "request" &&
          line.value("traceId", "").starts_with("log-probe-")) {
        found.push_back(line);
      }
    }
  }
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0]["method"], "GET");
  EXPECT_EQ(found[0]["path"], "/api/health");
  EXPECT_EQ(found[0]["status"], 200);
  EXPECT_EQ(found[1]["status"], 404);
  for (const auto& line : found) {
    EXPECT_EQ(line["level"], "info");
    EXPECT_EQ(line["service"], "web");
    EXPECT_TRUE(line["duration_ms"].is_number());
    EXPECT_TRUE(line["ts"].is_string());
  }
}

TEST_F(WebTest, SigtermStopsTheServerWithExitCodeZero) {
  HttpClient c(web_.port());
  ASSERT_EQ(c.request("GET", "/api/health").status, 200);
  EXPECT_EQ(web_.terminate(), 0);
  bool stopped_line = false;
  for (const auto& line : web_.log_lines()) {
    stopped_line = stopped_line || line.value("msg", "") == "fsm-web stopped";
  }
  EXPECT_TRUE(stopped_line);
}

// Not just any failure to start: exit code 2 and a log line that names the
// missing setting.
TEST(WebConfig, AMissingDatabaseUrlIsAClearStartupError) {
  const std::string command =
      "env -u DATABASE_URL PORT=0 " + testing::required_env("FSM_WEB_BIN") + " 2>&1";
  FILE* out = ::popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string text;
  char buf[4096];
  while (const std::size_t n = std::fread(buf, 1, sizeof buf, out)) text.append(buf, n);
  const int status = ::pclose(out);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  const auto line = nlohmann::json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(line["level"], "error");
  EXPECT_EQ(line["msg"], "invalid configuration");
  EXPECT_EQ(line["error"], "DATABASE_URL is required");
}

// The database goes away and comes back: health follows within its deadline,
// and the process neither crashes nor needs a restart.
TEST(WebOutage, HealthDegradesWhileTheDatabaseIsDownAndRecoversByItself) {
  testing::PgCluster pg;
  events::migrate(pg.url());
  testing::record_worker_pass(pg.url());
  WebProcess web({{"DATABASE_URL", pg.url()}, {"FSM_HEALTH_INTERVAL_MS", "100"}});
  HttpClient c(web.port());
  ASSERT_EQ(c.request("GET", "/api/health").status, 200);

  auto wait_for_status = [&](int want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto t0 = std::chrono::steady_clock::now();
      auto res = c.request("GET", "/api/health");
      EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
      if (res.status == want) return res;
    }
    ADD_FAILURE() << "health never answered " << want;
    return testing::HttpResponse{};
  };

  pg.stop();
  auto down = wait_for_status(503);
  EXPECT_EQ(down.json()["status"], "degraded");
  EXPECT_EQ(down.json()["checks"]["db"], "fail");

  pg.start();
  auto up = wait_for_status(200);
  EXPECT_EQ(up.json()["checks"]["db"], "ok");
  EXPECT_EQ(web.terminate(), 0);
}

TEST(WebOutage, HealthAnswersWithinTwoSecondsWhileTheDatabaseHangs) {
  testing::PgCluster pg;
  events::migrate(pg.url());
  testing::record_worker_pass(pg.url());
  WebProcess web({{"DATABASE_URL", pg.url()}, {"FSM_HEALTH_INTERVAL_MS", "100"}});
  HttpClient c(web.port());
  ASSERT_EQ(c.request("GET", "/api/health").status, 200);
  pg.pause();
  int degraded = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (degraded == 0 && std::chrono::steady_clock::now() < deadline) {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = c.request("GET", "/api/health");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    if (res.status == 503) ++degraded;
  }
  pg.resume();
  EXPECT_EQ(degraded, 1);
  const auto back = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < back) {
    status = c.request("GET", "/api/health").status;
  }
  EXPECT_EQ(status, 200);
}

// Requests whose database work cannot finish (the server is frozen) answer
// 503 by their deadline instead of holding workers; health keeps answering.
TEST(WebOutage, RequestsInFlightWhileTheDatabaseHangsAnswer503ByTheirDeadline) {
  testing::PgCluster pg;
  events::migrate(pg.url());
  WebProcess web({{"DATABASE_URL", pg.url()},
                  {"FSM_HEALTH_INTERVAL_MS", "100"},
                  {"FSM_DB_STATEMENT_TIMEOUT_MS", "1000"}});
  // A session lookup is database work: 8 at once open every pooled connection.
  auto lookups = [&] {
    std::vector<std::future<std::pair<int, std::chrono::steady_clock::duration>>> calls;
    for (int i = 0; i < 8; ++i) {
      calls.push_back(std::async(std::launch::async, [&] {
        const auto t0 = std::chrono::steady_clock::now();
        HttpClient c(web.port());
        const int status =
            c.request("GET", "/api/v1/clients", "", {{"Authorization", "Bearer nobody"}}).status;
        return std::make_pair(status, std::chrono::steady_clock::now() - t0);
      }));
    }
    return calls;
  };
  for (auto& f : lookups()) ASSERT_EQ(f.get().first, 401);
  pg.pause();
  auto stuck = lookups();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    HttpClient c(web.port());
    c.request("GET", "/api/health");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  }
  for (auto& f : stuck) {
    const auto [status, took] = f.get();
    EXPECT_EQ(status, 503);
    EXPECT_LT(took, std::chrono::seconds(6)) << "the deadline (1 s + 2 s grace) was not kept";
  }
  pg.resume();
  EXPECT_EQ(web.terminate(), 0);
}

}  // namespace
}  // namespace fsm

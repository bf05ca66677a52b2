// Graceful stop, in process: a request in flight when the stop begins still
// gets its whole response.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <latch>
#include <mutex>
#include <thread>

#include "http/server.h"
#include "support/test_env.h"

namespace fsm::http {
namespace {

TEST(ServerDrain, AnInFlightRequestIsAnsweredBeforeShutdown) {
  std::latch entered(1);
  std::promise<void> release;
  auto released = release.get_future().share();
  Router router;
  router.add(Method::kGet, "/slow", [&](const Request&) {
    entered.count_down();
    released.wait();
    return Response::json(200, {{"done", true}});
  });
  ServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.threads = 2;
  config.drain_timeout = std::chrono::seconds(20);
  Server server(config, router);
  const int port = server.start();

  testing::HttpClient client(port);
  client.send_raw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  entered.wait();

  auto drained = std::async(std::launch::async, [&] { return server.drain_and_stop(); });
  while (!server.draining()) std::this_thread::yield();
  release.set_value();

  auto res = client.read_response();
  ASSERT_TRUE(res) << "the in-flight response was dropped";
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["done"], true);
  EXPECT_EQ(res->headers["connection"], "Close");  // no keep-alive while draining
  EXPECT_EQ(drained.get(), 0);
}

// Answers are written by the worker straight to the socket. A client that
// hangs up before its answer frees the server's descriptor number for the
// next connection; the late answer must not reach that one.
TEST(ServerDrain, ALateAnswerNeverReachesAnotherConnection) {
  std::mutex mu;
  std::condition_variable changed;
  int entered = 0, released = 0;
  Router router;
  router.add(Method::kGet, "/slow", [&](const Request&) {
    std::unique_lock lock(mu);
    const int mine = ++entered;
    changed.notify_all();
    changed.wait(lock, [&] { return released >= mine; });
    return Response::json(200, {{"for", "slow"}});
  });
  router.add(Method::kGet, "/fast", [](const Request&) {
    return Response::json(200, {{"for", "fast"}});
  });
  ServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  Server server(config, router);
  const int port = server.start();
  for (int round = 1; round <= 20; ++round) {
    SCOPED_TRACE(round);
    {
      testing::HttpClient gone(port);
      gone.send_raw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
      std::unique_lock lock(mu);
      changed.wait(lock, [&] { return entered >= round; });
    }                                                            // hangs up while its request runs
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the server sees it go
    testing::HttpClient next(port);
    next.send_raw("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    {
      std::lock_guard lock(mu);
      released = round;
    }
    changed.notify_all();
    auto res = next.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(nlohmann::json::parse(res->body)["for"], "fast");
    EXPECT_FALSE(next.closed_by_server(std::chrono::milliseconds(50)));
  }
}

TEST(ServerDrain, AnExceptionInAHandlerIsA500WithoutItsMessage) {
  Router router;
  router.add(Method::kGet, "/boom", [](const Request&) -> Response {
    throw std::runtime_error("SELECT secret FROM users -- must not leak");
  });
  ServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  Server server(config, router);
  testing::HttpClient client(server.start());
  auto res = client.request("GET", "/boom");
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.json()["error"]["code"], "INTERNAL_ERROR");
  EXPECT_EQ(res.body.find("secret"), std::string::npos);
  EXPECT_EQ(server.drain_and_stop(), 0);
}

}  // namespace
}  // namespace fsm::http

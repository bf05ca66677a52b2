// The notifiers against a real local HTTP receiver: what a request carries,
// how each kind of answer (or none) is classified, and that a URL's secrets
// reach the receiver but never a log line.
#include "worker/notifier.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>

#include "common/env.h"
#include "common/uuid.h"
#include "support/http_receiver.h"

namespace fsm::worker {
namespace {

using nlohmann::json;
using testing::HttpReceiver;

Notification reminder() {
  Notification n;
  n.event_id = new_uuid();
  n.kind = "visit_reminder";
  n.stream_id = new_uuid();
  n.account_id = new_uuid();
  n.data = {{"entity_id", new_uuid()}, {"message", "Visit for \"Boiler\" starts at 09:00"}};
  n.attempt = 2;
  return n;
}

std::vector<json> log_lines(const std::string& out) {
  std::vector<json> lines;
  std::size_t at = 0;
  while (at < out.size()) {
    const auto end = out.find('\n', at);
    lines.push_back(json::parse(out.substr(at, end - at)));
    at = end == std::string::npos ? out.size() : end + 1;
  }
  return lines;
}

TEST(HttpNotifierTest, PostsTheNotificationAsJsonWithItsEventIdAsIdempotencyKey) {
  HttpReceiver receiver;
  HttpNotifier notifier(receiver.url("/mytopic"), std::chrono::seconds(5));
  const Notification n = reminder();
  const Attempt a = notifier.send(n);
  EXPECT_TRUE(a.delivered);
  EXPECT_FALSE(a.permanent);
  EXPECT_EQ(a.http_status, 200);
  EXPECT_EQ(a.number, 2);
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/mytopic");
  EXPECT_EQ(r.headers.at("idempotency-key"), n.event_id);
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  // What ntfy reads: the title, and the message rendered from the body.
  EXPECT_EQ(r.headers.at("title"), "Visit reminder");
  EXPECT_EQ(r.headers.at("x-template"), "yes");
  EXPECT_EQ(r.headers.at("x-message"), "{{.message}}");
  const json body = json::parse(r.body);
  EXPECT_EQ(body["event_id"], n.event_id);
  EXPECT_EQ(body["kind"], "visit_reminder");
  EXPECT_EQ(body["account_id"], n.account_id);
  EXPECT_EQ(body["entity_id"], n.data["entity_id"]);
  EXPECT_EQ(body["message"], n.data["message"]);
  EXPECT_EQ(body["attempt"], 2);
  EXPECT_EQ(body["data"], n.data);
}

TEST(HttpNotifierTest, ClassifiesEachAnswer) {
  struct Case {
    int status;
    bool delivered;
    bool permanent;
  };
  const std::vector<Case> cases = {
      {200, true, false},  {201, true, false},  {204, true, false},  {408, false, false},
      {429, false, false}, {500, false, false}, {502, false, false}, {503, false, false},
      {504, false, false}, {400, false, true},  {401, false, true},  {403, false, true},
      {404, false, true},  {410, false, true},  {422, false, true},  {301, false, true}};
  HttpReceiver receiver;
  HttpNotifier notifier(receiver.url(), std::chrono::seconds(5));
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status);
    receiver.answer_next({c.status});
    const Attempt a = notifier.send(reminder());
    EXPECT_EQ(a.http_status, c.status);
    EXPECT_EQ(a.delivered, c.delivered);
    EXPECT_EQ(a.permanent, c.permanent);
    EXPECT_EQ(a.error.empty(), c.delivered);
  }
}

TEST(HttpNotifierTest, NoAnswerIsAFailureForNow) {
  HttpReceiver receiver;
  HttpNotifier notifier(receiver.url(), std::chrono::milliseconds(300));
  auto expect_transient = [&](const char* what) {
    SCOPED_TRACE(what);
    const auto started = std::chrono::steady_clock::now();
    const Attempt a = notifier.send(reminder());
    EXPECT_FALSE(a.delivered);
    EXPECT_FALSE(a.permanent);
    EXPECT_EQ(a.http_status, 0);
    EXPECT_FALSE(a.error.empty());
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  };
  receiver.answer_next({HttpReceiver::kHangUp});
  expect_transient("hang-up");
  receiver.answer_next({HttpReceiver::kSilence});
  expect_transient("silence past the timeout");
  receiver.refuse();
  expect_transient("connection refused");
  receiver.accept_again();
  EXPECT_TRUE(notifier.send(reminder()).delivered);
}

TEST(HttpNotifierTest, TheUrlsSecretsReachTheReceiverButNoLogLine) {
  HttpReceiver receiver;
  const std::string url = "http://fsm:s3cret-pass@127.0.0.1:" + std::to_string(receiver.port()) +
                          "/topic?auth=tk_s3cret-token#frag";
  EXPECT_EQ(HttpNotifier::redacted(url),
            "http://127.0.0.1:" + std::to_string(receiver.port()) + "/topic");
  HttpNotifier notifier(url, std::chrono::seconds(5));
  receiver.answer_next({503});
  ::testing::internal::CaptureStdout();
  const Attempt a = notifier.send(reminder());
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_FALSE(a.delivered);
  EXPECT_EQ(out.find("s3cret"), std::string::npos) << out;
  EXPECT_EQ(a.error.find("s3cret"), std::string::npos) << a.error;
  bool warned = false;
  for (auto line : log_lines(out)) {
    if (line["msg"] == "notification not delivered") {
      warned = true;
      EXPECT_EQ(line["url"], HttpNotifier::redacted(url));
      EXPECT_EQ(line["http_status"], 503);
    }
  }
  EXPECT_TRUE(warned) << out;
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/topic?auth=tk_s3cret-token");
  EXPECT_EQ(requests[0].headers.at("authorization"), "Basic ZnNtOnMzY3JldC1wYXNz");
}

TEST(HttpNotifierTest, RefusesAUrlThatIsNotHttp) {
  for (const char* url : {"ftp://127.0.0.1/x", "file:///etc/passwd", "not a url", ""}) {
    SCOPED_TRACE(url);
    EXPECT_THROW(HttpNotifier(url, std::chrono::seconds(1)), std::invalid_argument);
  }
}

TEST(LogNotifierTest, LogsTheNotificationAndReportsItDelivered) {
  const Notification n = reminder();
  LogNotifier notifier;
  ::testing::internal::CaptureStdout();
  const Attempt a = notifier.send(n);
  auto lines = log_lines(::testing::internal::GetCapturedStdout());
  EXPECT_TRUE(a.delivered);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["kind"], "visit_reminder");
  EXPECT_EQ(lines[0]["event_id"], n.event_id);
  EXPECT_EQ(lines[0]["entity_id"], n.data["entity_id"]);
  EXPECT_EQ(lines[0]["message"], n.data["message"]);
}

TEST(NotifierFromEnvTest, PostsOnlyWhenAUrlIsSet) {
  ::unsetenv("FSM_NOTIFY_URL");
  EXPECT_NE(dynamic_cast<LogNotifier*>(notifier_from_env().get()), nullptr);
  ::setenv("FSM_NOTIFY_URL", "https://ntfy.sh/fsm-test-topic", 1);
  EXPECT_NE(dynamic_cast<HttpNotifier*>(notifier_from_env().get()), nullptr);
  ::setenv("FSM_NOTIFY_URL", "ntfy.sh/fsm-test-topic", 1);
  EXPECT_THROW(notifier_from_env(), env::ConfigError);
  ::setenv("FSM_NOTIFY_URL", "https://ntfy.sh/fsm-test-topic", 1);
  ::setenv("FSM_NOTIFY_TIMEOUT_MS", "0", 1);
  EXPECT_THROW(notifier_from_env(), env::ConfigError);
  ::unsetenv("FSM_NOTIFY_URL");
  ::unsetenv("FSM_NOTIFY_TIMEOUT_MS");
}

}  // namespace
}  // namespace fsm::worker

// From a request, read and routed, to its answer: the answers given before
// any handler, the handler's Result (an Error as the contract's body with the
// request's trace id), exceptions that must not leak, and the bytes sent.
#include "http/dispatch.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "events/pg_pool.h"

namespace fsm::http {
namespace {

RequestHead head_of(const std::string& request) {
  Frame f = frame_request(request);
  EXPECT_NE(f.kind, Frame::Kind::kInvalid) << f.why;
  return std::move(f.head);
}

class DispatchTest : public testing::Test {
 protected:
  DispatchTest() {
    router_.add(Method::kGet, "/ok/:id", [this](const Request& r) {
      ++runs_;
      return Response::json(200, {{"id", r.params.at("id")}});
    });
    router_.add(Method::kPost, "/ok/:id", [this](const Request&) {
      ++runs_;
      return Response::no_content();
    });
    router_.add(
        Method::kPost, "/login", [](const Request&) { return Response::no_content(); },
        Lane::kSlow);
    router_.add(Method::kGet, "/conflict", [](const Request&) -> Result<Response> {
      Error err = Error::of(ErrorCode::kConflict, "version mismatch");
      err.expected_version = 3;
      err.actual_version = 4;
      return err;
    });
    router_.add(Method::kGet, "/boom", [](const Request&) -> Result<Response> {
      throw std::runtime_error("SELECT secret FROM users");
    });
    router_.add(Method::kGet, "/db", [](const Request&) -> Result<Response> {
      throw events::DbUnavailable("connection refused at 10.0.0.5");
    });
  }

  Work route(const std::string& request, std::string body = "") {
    return dispatch_.route(head_of(request), std::move(body), "192.0.2.1");
  }

  Router router_;
  std::atomic<bool> draining_{false};
  Dispatch dispatch_{router_, draining_};
  int runs_ = 0;
};

TEST_F(DispatchTest, ARoutedRequestRunsOnItsRoutesLaneWithItsParameters) {
  Work w = route("GET /ok/42?a=1 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_NE(w.handler, nullptr);
  EXPECT_FALSE(w.early);
  EXPECT_EQ(w.lane, Lane::kWorker);
  EXPECT_EQ(w.req.params.at("id"), "42");
  EXPECT_EQ(w.req.query.at("a"), "1");
  EXPECT_EQ(w.req.peer_ip, "192.0.2.1");
  EXPECT_EQ(Dispatch::respond(w).body["id"], "42");
  EXPECT_EQ(route("POST /login HTTP/1.1\r\nHost: h\r\n\r\n").lane, Lane::kSlow);
}

TEST_F(DispatchTest, AHandlersErrorIsTheContractsBodyWithTheRequestsTraceId) {
  const Response res =
      Dispatch::respond(route("GET /conflict HTTP/1.1\r\nHost: h\r\nX-Request-Id: abc-1\r\n\r\n"));
  EXPECT_EQ(res.status, 409);
  EXPECT_EQ(res.body, nlohmann::json::parse(R"({"error": {"code": "CONFLICT",
      "message": "version mismatch", "traceId": "abc-1",
      "details": {"expected_version": 3, "actual_version": 4}}})"));
}

TEST_F(DispatchTest, ARequestIdThatIsNotPlainIsReplaced) {
  EXPECT_EQ(
      route("GET /ok/1 HTTP/1.1\r\nHost: h\r\nX-Request-Id: a.b:c_d-9\r\n\r\n").req.request_id,
      "a.b:c_d-9");
  for (const std::string& bad :
       std::vector<std::string>{"a b", "a\"b", std::string(129, 'a'), ""}) {
    const auto id =
        route("GET /ok/1 HTTP/1.1\r\nHost: h\r\nX-Request-Id: " + bad + "\r\n\r\n").req.request_id;
    EXPECT_NE(id, bad);
    EXPECT_EQ(id.size(), 36u) << "a UUID";
  }
}

TEST_F(DispatchTest, AnExceptionIsA500ThatSaysNothingOfIt) {
  const Response res = Dispatch::respond(route("GET /boom HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body["error"]["code"], "INTERNAL_ERROR");
  EXPECT_EQ(res.body.dump().find("secret"), std::string::npos);
}

TEST_F(DispatchTest, AnUnreachableDatabaseIsA503ToRetry) {
  const Response res = Dispatch::respond(route("GET /db HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body["error"]["code"], "SERVICE_UNAVAILABLE");
  EXPECT_EQ(res.body.dump().find("10.0.0.5"), std::string::npos);
  EXPECT_EQ(res.headers, (decltype(res.headers){{"Retry-After", "2"}}));
}

TEST_F(DispatchTest, NoRouteIsA404AndAnotherMethodA405ListingTheOthers) {
  const Work none = route("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(none.early);
  EXPECT_EQ(none.handler, nullptr);
  EXPECT_EQ(none.lane, Lane::kInline);
  EXPECT_EQ(none.early->body["error"]["code"], "NOT_FOUND");
  const Work other = route("DELETE /ok/1 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(other.early);
  EXPECT_EQ(other.early->status, 405);
  EXPECT_EQ(other.early->body["error"]["code"], "METHOD_NOT_ALLOWED");
  EXPECT_EQ(other.early->headers, (decltype(other.early->headers){{"Allow", "GET, POST"}}));
}

TEST_F(DispatchTest, ABodyThatIsNotJsonIsRefusedBeforeTheHandler) {
  const Work w = route(
      "POST /ok/1 HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n",
      "{}");
  ASSERT_TRUE(w.early);
  EXPECT_EQ(w.early->status, 415);
  EXPECT_EQ(w.early->body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
  EXPECT_EQ(Dispatch::respond(w).status, 415);
  EXPECT_EQ(runs_, 0);
}

TEST_F(DispatchTest, AQueryParameterGivenTwiceIsRefusedNamingIt) {
  const Work w = route("GET /ok/1?a=1&b=2&a=3&a=4 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(w.early);
  EXPECT_EQ(w.early->status, 400);
  const auto& issues = w.early->body["error"]["details"]["issues"];
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0]["path"], nlohmann::json::array({"a"}));
}

TEST_F(DispatchTest, AnUnreadableRequestIsRefusedWithItsStatusAndCloses) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GET / HTTP/1.1\r\n\r\n", "VALIDATION_ERROR"},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n", "PAYLOAD_TOO_LARGE"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(40000, 'a'), "HEADERS_TOO_LARGE"}};
  for (const auto& [request, code] : cases) {
    const Frame f = frame_request(request);
    ASSERT_EQ(f.kind, Frame::Kind::kInvalid);
    const Work w = Dispatch::refuse(f, "192.0.2.1");
    EXPECT_TRUE(w.close);
    ASSERT_TRUE(w.early);
    EXPECT_EQ(w.early->status, f.status);
    EXPECT_EQ(w.early->body["error"]["code"], code);
    EXPECT_EQ(w.early->body["error"]["traceId"], w.req.request_id);
  }
}

TEST_F(DispatchTest, AnAnswerClosesItsConnectionOnceDrainingBegan) {
  const Work w = route("GET /ok/1 HTTP/1.1\r\nHost: h\r\n\r\n");
  bool close = false;
  EXPECT_NE(dispatch_.answer(w, close).find("Connection: Keep-Alive\r\n"), std::string::npos);
  EXPECT_FALSE(close);
  draining_ = true;
  EXPECT_NE(dispatch_.answer(w, close).find("Connection: Close\r\n"), std::string::npos);
  EXPECT_TRUE(close);
}

TEST_F(DispatchTest, TheAnswerIsForTheRequestsVersionAndMethod) {
  const Work w = route("HEAD /nope HTTP/1.0\r\n\r\n");
  bool close = w.close;
  const std::string bytes = dispatch_.answer(w, close);
  EXPECT_TRUE(close) << "HTTP/1.0 without keep-alive";
  EXPECT_EQ(bytes.rfind("HTTP/1.0 404 Not Found\r\n", 0), 0u) << bytes;
  EXPECT_NE(bytes.find("X-Request-Id: " + w.req.request_id + "\r\n"), std::string::npos);
  EXPECT_EQ(bytes.substr(bytes.size() - 4), "\r\n\r\n") << "HEAD: no body";
}

}  // namespace
}  // namespace fsm::http

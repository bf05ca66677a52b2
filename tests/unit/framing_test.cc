// Requests cut from a connection's bytes and read strictly: complete, still
// arriving, or sent in a way two readers could disagree on. (Answers: wire_test.)
#include "http/framing.h"

#include <gtest/gtest.h>

#include <string>

namespace fsm::http {
namespace {

using Kind = Frame::Kind;

TEST(Framing, AHeadWithoutBodyEndsAtItsBlankLine) {
  const std::string one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const Frame f = frame_request(one + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(f.kind, Kind::kComplete);
  EXPECT_EQ(f.size, one.size());
  EXPECT_EQ(f.head.method, "GET");
  EXPECT_EQ(f.head.path, "/a");
  EXPECT_EQ(frame_request("GET / HTTP/1.0\r\n\r\n").size, 18u) << "HTTP/1.0 needs no Host";
}

TEST(Framing, ABodyIsContentLengthBytesWhateverItHolds) {
  const std::string one = "POST /a HTTP/1.1\r\nHost: x\r\ncontent-LENGTH:  \t7 \r\n\r\n\r\n\r\nGET";
  const Frame f = frame_request(one + "GET /b HTTP/1.1\r\n\r\n");
  EXPECT_EQ(f.kind, Kind::kComplete);
  EXPECT_EQ(f.size, one.size());
  EXPECT_EQ(f.head.content_length, 7u);
}

TEST(Framing, TheHeadIsReadAsSent) {
  const Frame f = frame_request(
      "DELETE /api/v1/x?a=1&b=%20 HTTP/1.1\r\nHost: h\r\nX-Request-Id:  abc \r\n"
      "Connection: keep-alive, Close\r\n\r\n");
  ASSERT_EQ(f.kind, Kind::kComplete);
  EXPECT_EQ(f.head.method, "DELETE");
  EXPECT_EQ(f.head.path, "/api/v1/x");
  EXPECT_EQ(f.head.query, "a=1&b=%20");
  EXPECT_EQ(f.head.minor_version, 1);
  EXPECT_TRUE(f.head.close);
  ASSERT_EQ(f.head.headers.size(), 3u);
  EXPECT_EQ(f.head.headers[1], (std::pair<std::string, std::string>{"x-request-id", "abc"}));
  EXPECT_FALSE(frame_request("GET / HTTP/1.1\r\nHost: h\r\n\r\n").head.close);
  EXPECT_TRUE(frame_request("GET / HTTP/1.0\r\n\r\n").head.close);
  EXPECT_FALSE(frame_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head.close);
  EXPECT_EQ(frame_request("GET http://h:1/p?q HTTP/1.1\r\nHost: h\r\n\r\n").head.path, "/p");
}

TEST(Framing, EmptyLinesBeforeARequestAreSkipped) {
  const std::string req = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  const Frame f = frame_request(req);
  EXPECT_EQ(f.kind, Kind::kComplete);
  EXPECT_EQ(f.size, req.size());
}

TEST(Framing, AnIncompleteRequestSaysHowBigItWillBeOnceItsHeadIsIn) {
  EXPECT_EQ(frame_request("GET /a HTTP/1.1\r\nHost: x\r\n").kind, Kind::kIncomplete);
  EXPECT_EQ(frame_request("GET /a HTTP/1.1\r\nHost: x\r\n").size, 0u);
  EXPECT_EQ(frame_request("GET /a HT").kind, Kind::kIncomplete);
  const Frame f = frame_request("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}");
  EXPECT_EQ(f.kind, Kind::kIncomplete);
  EXPECT_EQ(f.size, 59u);
}

TEST(Framing, FramingTwoReadersCouldDisagreeOnIsRefused) {
  for (const std::string head :
       {"Content-Length: 1\r\nContent-Length: 1\r\n", "Content-Length: 1, 1\r\n",
        "Content-Length: +1\r\n", "Content-Length: -1\r\n", "Content-Length:\r\n",
        "Content-Length: 0x10\r\n", "Content-Length: 99999999999999999999999\r\n",
        "Transfer-Encoding: chunked\r\n", "transfer-encoding: identity\r\n",
        "Transfer-Encoding : chunked\r\nContent-Length: 3\r\n", "Content-Length : 3\r\n",
        "Host: y\r\n"}) {
    SCOPED_TRACE(head);
    const Frame f = frame_request("POST /a HTTP/1.1\r\nHost: x\r\n" + head + "\r\n");
    EXPECT_EQ(f.kind, Kind::kInvalid);
    EXPECT_EQ(f.status, 400);
    EXPECT_STRNE(f.why, "");
  }
}

TEST(Framing, MalformedHeadsAreRefused) {
  for (const std::string req :
       {"GET / HTTP/1.1\r\n\r\n",                                   // HTTP/1.1 without Host
        "GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",         // a line without a colon
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n",  // obs-fold
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tfolded\r\n\r\n",
        "GET / HTTP/1.1\nHost: x\r\n\r\n",                   // a bare LF
        "GET / HTTP/1.1\r\nHost: x\n\n",                     // bare LFs only
        "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n",           // a bare CR
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",  // a control byte
        "GET / HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n",       // a space in a name
        "GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n",          // no name
        "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",                // two spaces
        "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "GET / http/1.1\r\nHost: x\r\n\r\n",
        "GET relative HTTP/1.1\r\nHost: x\r\n\r\n", "GET /#frag HTTP/1.1\r\nHost: x\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", "GET /\x80 HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    SCOPED_TRACE(req);
    const Frame f = frame_request(req);
    EXPECT_EQ(f.kind, Kind::kInvalid);
    EXPECT_EQ(f.status, 400);
  }
}

TEST(Framing, ABadRequestLineIsRefusedBeforeItsHeadIsComplete) {
  EXPECT_EQ(frame_request("HELLO\r\n").kind, Kind::kInvalid);
  EXPECT_EQ(frame_request("GET / HTTP/1.1\n").kind, Kind::kInvalid);
}

TEST(Framing, OversizedHeadsAndBodiesHaveTheirOwnStatus) {
  const FrameLimits limits{1024, 100};
  const std::string big(2000, 'a');
  EXPECT_EQ(frame_request("GET / HTTP/1.1\r\nHost: x\r\nX: " + big, limits).status, 431);
  EXPECT_EQ(frame_request("GET / HTTP/1.1\r\nHost: x\r\nX: " + big + "\r\n\r\n", limits).status,
            431);
  const Frame body =
      frame_request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", limits);
  EXPECT_EQ(body.kind, Kind::kInvalid);
  EXPECT_EQ(body.status, 413);
  EXPECT_EQ(frame_request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", limits).kind,
            Kind::kIncomplete);
}

TEST(Framing, QueryParametersAreFormDecodedInOrder) {
  const auto q = parse_query("a=1&b=x+y%21&&c&a=2&bad=%zz&=v");
  ASSERT_EQ(q.size(), 6u);
  EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(q[1], (std::pair<std::string, std::string>{"b", "x y!"}));
  EXPECT_EQ(q[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(q[3], (std::pair<std::string, std::string>{"a", "2"}));
  EXPECT_EQ(q[4], (std::pair<std::string, std::string>{"bad", "%zz"}));
  EXPECT_EQ(q[5], (std::pair<std::string, std::string>{"", "v"}));
}

}  // namespace
}  // namespace fsm::http

// Requests cut from a connection's bytes: complete, still arriving, or
// framed in a way two readers could disagree on.
#include "http/framing.h"

#include <gtest/gtest.h>

#include <string>

namespace fsm::http {
namespace {

using Kind = Frame::Kind;

TEST(Framing, AHeadWithoutBodyEndsAtItsBlankLine) {
  const std::string one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const Frame f = frame_request(one + "GET /b HTTP/1.1\r\n\r\n");
  EXPECT_EQ(f.kind, Kind::kComplete);
  EXPECT_EQ(f.size, one.size());
  EXPECT_EQ(frame_request("GET / HTTP/1.1\r\n\r\n").size, 18u) << "no headers at all";
}

TEST(Framing, ABodyIsContentLengthBytesWhateverItHolds) {
  const std::string one = "POST /a HTTP/1.1\r\ncontent-LENGTH:  \t7 \r\n\r\n\r\n\r\nGET";
  const Frame f = frame_request(one + "GET /b HTTP/1.1\r\n\r\n");
  EXPECT_EQ(f.kind, Kind::kComplete);
  EXPECT_EQ(f.size, one.size());
}

TEST(Framing, AnIncompleteRequestSaysHowBigItWillBeOnceItsHeadIsIn) {
  EXPECT_EQ(frame_request("GET /a HTTP/1.1\r\nHost: x\r\n").kind, Kind::kIncomplete);
  EXPECT_EQ(frame_request("GET /a HTTP/1.1\r\nHost: x\r\n").size, 0u);
  const Frame f = frame_request("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}");
  EXPECT_EQ(f.kind, Kind::kIncomplete);
  EXPECT_EQ(f.size, 50u);
}

TEST(Framing, FramingTwoReadersCouldDisagreeOnIsRefused) {
  for (const std::string head :
       {"Content-Length: 1\r\nContent-Length: 1\r\n", "Content-Length: 1, 1\r\n",
        "Content-Length: +1\r\n", "Content-Length: -1\r\n", "Content-Length:\r\n",
        "Content-Length: 0x10\r\n", "Content-Length: 99999999999999999999999\r\n",
        "Content-Length: 1099511627777\r\n", "Transfer-Encoding: chunked\r\n",
        "transfer-encoding: identity\r\n"}) {
    SCOPED_TRACE(head);
    const Frame f = frame_request("POST /a HTTP/1.1\r\n" + head + "\r\n");
    EXPECT_EQ(f.kind, Kind::kInvalid);
    EXPECT_STRNE(f.why, "");
  }
}

}  // namespace
}  // namespace fsm::http

// An answer as bytes on the wire: what a client (or a proxy) reads back.
#include "http/wire.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fsm::http {
namespace {

// An answer's bytes taken apart: the status line, the header lines, the body.
struct Parsed {
  std::string status_line;
  std::vector<std::string> headers;
  std::string body;
};

Parsed parse(const std::string& bytes) {
  Parsed p;
  const std::size_t end = bytes.find("\r\n\r\n");
  if (end == std::string::npos) {
    ADD_FAILURE() << "no end of head in: " << bytes;
    return p;
  }
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos <= end;) {
    const std::size_t eol = bytes.find("\r\n", pos);
    lines.push_back(bytes.substr(pos, eol - pos));
    pos = eol + 2;
  }
  p.status_line = lines.front();
  p.headers.assign(lines.begin() + 1, lines.end());
  p.body = bytes.substr(end + 4);
  return p;
}

Response json_answer() {
  Response res = Response::json(201, {{"a", 1}});
  res.headers = {{"Location", "/api/v1/x"}};
  return res;
}

TEST(Wire, AnAnswerIsItsStatusLineHeadersAndBody) {
  EXPECT_EQ(serialize_answer(json_answer(), "r1", {}),
            "HTTP/1.1 201 Created\r\nConnection: Keep-Alive\r\nX-Request-Id: r1\r\n"
            "Location: /api/v1/x\r\nContent-Type: application/json; charset=utf-8\r\n"
            "Content-Length: 7\r\n\r\n{\"a\":1}");
}

TEST(Wire, TheStatusLineHasTheRequestsVersion) {
  EXPECT_EQ(parse(serialize_answer(json_answer(), "r", {0, false, false})).status_line,
            "HTTP/1.0 201 Created");
  EXPECT_EQ(parse(serialize_answer(json_answer(), "r", {1, false, false})).status_line,
            "HTTP/1.1 201 Created");
}

TEST(Wire, TheConnectionHeaderSaysWhetherTheConnectionStaysOpen) {
  for (const int minor : {0, 1}) {
    SCOPED_TRACE(minor);
    // HTTP/1.0 keeps a connection open only when the answer says so.
    EXPECT_EQ(parse(serialize_answer(json_answer(), "r", {minor, false, false})).headers[0],
              "Connection: Keep-Alive");
    EXPECT_EQ(parse(serialize_answer(json_answer(), "r", {minor, false, true})).headers[0],
              "Connection: Close");
  }
}

TEST(Wire, ContentLengthIsTheBodysBytes) {
  const Response res = Response::json(200, {{"name", "Zoë €"}, {"n", {1, 2, 3}}});
  const Parsed p = parse(serialize_answer(res, "r", {}));
  EXPECT_EQ(p.body, res.body.dump());
  EXPECT_EQ(p.headers.back(), "Content-Length: " + std::to_string(p.body.size()));
}

TEST(Wire, ATextBodyIsSentAsGivenWithItsLength) {
  // Rows rendered as JSON by PostgreSQL go out byte for byte, never re-dumped.
  const std::string text = R"({"data" : [{"id" : "x", "name" : "Zoë"}]})";
  const Parsed p = parse(serialize_answer(Response::json_text(200, text), "r", {}));
  EXPECT_EQ(p.body, text);
  EXPECT_EQ(p.headers.back(), "Content-Length: " + std::to_string(text.size()));
  EXPECT_EQ(p.headers[2], "Content-Type: application/json; charset=utf-8");
  EXPECT_EQ(parse(serialize_answer(Response::json_text(200, text), "r", {1, true, false})).body,
            "");
}

TEST(Wire, AnAnswerToHeadHasTheHeadersOfTheGetAnswerAndNoBody) {
  const std::string get = serialize_answer(json_answer(), "r", {1, false, false});
  const std::string head = serialize_answer(json_answer(), "r", {1, true, false});
  EXPECT_EQ(parse(head).headers, parse(get).headers);
  EXPECT_EQ(parse(head).body, "");
  EXPECT_EQ(head + "{\"a\":1}", get);
}

TEST(Wire, NoContentAndNotModifiedHaveNeitherBodyNorLength) {
  for (const int status : {204, 304}) {
    SCOPED_TRACE(status);
    Response res = Response::json(status, {{"ignored", true}});
    const std::string bytes = serialize_answer(res, "r", {});
    const Parsed p = parse(bytes);
    EXPECT_EQ(p.headers, (std::vector<std::string>{"Connection: Keep-Alive", "X-Request-Id: r"}));
    EXPECT_EQ(p.body, "");
  }
  EXPECT_EQ(serialize_answer(Response::no_content(), "r", {}),
            "HTTP/1.1 204 No Content\r\nConnection: Keep-Alive\r\nX-Request-Id: r\r\n\r\n");
}

TEST(Wire, ANullBodyIsAnEmptyOneWithItsLength) {
  const Parsed p = parse(serialize_answer(Response{200, nullptr, {}, {}}, "r", {}));
  EXPECT_EQ(p.headers.back(), "Content-Length: 0");
  EXPECT_EQ(p.headers.size(), 3u) << "no Content-Type";
  EXPECT_EQ(p.body, "");
}

TEST(Wire, NoHeaderCanEndItsLineEarly) {
  Response res = Response::json(200, {{"ok", true}});
  res.headers = {{"X-A", "1\r\nSet-Cookie: stolen=1"},
                 {"X-B\r\nSet-Cookie: stolen=2\r\nX-C", "2"},
                 {"X-D", "3\r\n\r\n<html>injected body"}};
  const Parsed p = parse(serialize_answer(res, "id\nSet-Cookie: stolen=3", {}));
  EXPECT_EQ(p.headers, (std::vector<std::string>{
                           "Connection: Keep-Alive", "X-Request-Id: idSet-Cookie: stolen=3",
                           "X-A: 1Set-Cookie: stolen=1", "X-BSet-Cookie: stolen=2X-C: 2",
                           "X-D: 3<html>injected body",
                           "Content-Type: application/json; charset=utf-8", "Content-Length: 11"}));
  EXPECT_EQ(p.body, "{\"ok\":true}");
}

TEST(Wire, AStringThatIsNotUtf8IsWrittenWithReplacementCharacters) {
  const Response res = Response::json(400, {{"message", std::string("bad \xff byte")}});
  std::string bytes;
  ASSERT_NO_THROW(bytes = serialize_answer(res, "r", {}));
  const Parsed p = parse(bytes);
  EXPECT_EQ(p.body, "{\"message\":\"bad \xEF\xBF\xBD byte\"}");
  EXPECT_EQ(p.headers.back(), "Content-Length: " + std::to_string(p.body.size()));
}

TEST(Wire, EveryStatusAnErrorCanHaveHasItsReasonPhrase) {
  const std::vector<std::pair<int, std::string>> expected = {
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {409, "Conflict"},
      {413, "Content Too Large"},
      {415, "Unsupported Media Type"},
      {422, "Unprocessable Content"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {503, "Service Unavailable"}};
  for (const auto& [status, reason] : expected) {
    EXPECT_EQ(parse(serialize_answer(Response::json(status, {}), "r", {})).status_line,
              "HTTP/1.1 " + std::to_string(status) + " " + reason);
  }
}

}  // namespace
}  // namespace fsm::http

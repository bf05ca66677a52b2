// HTTP/1.1 on the wire, reading: cutting requests out of a connection's
// bytes and reading their heads (RFC 9112). Answers are written by wire.h.
//
// This is the first code that reads what a client sends, so it is strict:
// anything that two readers (a proxy in front of us and us) could read two
// ways is refused rather than guessed at. Pure and unit-tested; fuzzed by
// fuzz/framing_fuzz.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fsm::http {

struct FrameLimits {
  std::size_t max_head_bytes = 32 * 1024;    // request line and headers: else 431
  std::size_t max_body_bytes = 1024 * 1024;  // Content-Length: else 413
};

// A request's head, as sent.
struct RequestHead {
  std::string method;     // a token, e.g. "GET"
  std::string path;       // the request target up to '?', not decoded
  std::string query;      // after '?', not decoded ("" when none)
  int minor_version = 1;  // HTTP/1.<minor>
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::size_t content_length = 0;
  bool close = false;  // the client asked for the connection to end after the answer
};

// Where the first request in `input` ends (its head up to the blank line,
// then Content-Length bytes of body), and its head once that is complete.
struct Frame {
  enum class Kind { kIncomplete, kComplete, kInvalid };
  Kind kind = Kind::kIncomplete;
  std::size_t size = 0;  // the request's bytes (kIncomplete: 0 until the head is in)
  int status = 400;      // kInvalid: 400, 413 or 431
  const char* why = "";  // kInvalid
  RequestHead head;      // kComplete, and kIncomplete once size is known
};

// Refused (kInvalid): a bare LF or CR, a header line with no colon or with
// whitespace before it, an obs-fold continuation line, control bytes, a
// Transfer-Encoding (we take bodies by Content-Length only), more than one
// Content-Length or Host, HTTP/1.1 without Host, any version but 1.0 and 1.1.
// Empty lines before the request line are skipped (RFC 9112 section 2.2).
Frame frame_request(std::string_view input, const FrameLimits& limits = {});

// The query string's parameters, form-decoded ('+' is a space, %XX a byte),
// in the order given; a parameter without '=' has an empty value.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

}  // namespace fsm::http

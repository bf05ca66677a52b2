// Cutting requests out of a connection's bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace fsm::http {

// Where the first request in `input` ends, by HTTP/1.1 message framing
// (RFC 9112 section 6): its head up to the blank line, then Content-Length
// bytes of body. Pistache's parser keeps one request and drops what follows
// it, so requests are cut here and handed to it one at a time (pipelining).
struct Frame {
  enum class Kind { kIncomplete, kComplete, kInvalid };
  Kind kind = Kind::kIncomplete;
  std::size_t size = 0;  // the request's bytes (kIncomplete: 0 until the head is in)
  const char* why = "";  // kInvalid
};

Frame frame_request(std::string_view input);

}  // namespace fsm::http

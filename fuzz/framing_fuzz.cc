// libFuzzer target: cutting requests out of a connection's bytes and reading
// their heads, the first code that reads what a client sends. Nothing may
// crash or trip ASan/UBSan, and every answer must describe the bytes it was
// given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const fsm::http::FrameLimits limits{256, 64};
  const auto frame = fsm::http::frame_request(input, limits);
  using Kind = fsm::http::Frame::Kind;
  const std::size_t head_end = input.find("\r\n\r\n");
  switch (frame.kind) {
    case Kind::kComplete:
      // A whole request: at least its head, at most what arrived, a body
      // within the limit, a path that starts with '/'.
      if (head_end == std::string_view::npos || frame.size < head_end + 4 || frame.size > size ||
          frame.head.content_length > limits.max_body_bytes || frame.head.path.empty() ||
          frame.head.path.front() != '/') {
        std::abort();
      }
      break;
    case Kind::kIncomplete:
      if (frame.size != 0 && (head_end == std::string_view::npos || frame.size <= size)) {
        std::abort();
      }
      break;
    case Kind::kInvalid:
      if (frame.why == nullptr || *frame.why == '\0') std::abort();
      if (frame.status != 400 && frame.status != 413 && frame.status != 431) std::abort();
      break;
  }
  for (const auto& [name, value] : fsm::http::parse_query(input.substr(0, 64))) {
    if (name.size() > 64 || value.size() > 64) std::abort();
  }
  return 0;
}

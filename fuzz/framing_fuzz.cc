// libFuzzer target: cutting requests out of a connection's bytes, the first
// code that reads what a client sends. Nothing may crash or trip ASan/UBSan,
// and every answer must describe the bytes it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto frame = fsm::http::frame_request(input);
  using Kind = fsm::http::Frame::Kind;
  const std::size_t head_end = input.find("\r\n\r\n");
  switch (frame.kind) {
    case Kind::kComplete:
      // A whole request: at least its head, at most what arrived.
      if (head_end == std::string_view::npos || frame.size < head_end + 4 || frame.size > size) {
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
      break;
  }
  return 0;
}

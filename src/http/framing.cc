#include "http/framing.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace fsm::http {
namespace {

// A header's name against a lower-case one, ignoring case (no copy: this
// runs for every header of every request).
bool is_named(std::string_view name, std::string_view lower) {
  return name.size() == lower.size() &&
         std::equal(name.begin(), name.end(), lower.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

}  // namespace

Frame frame_request(std::string_view input) {
  const std::size_t head_end = input.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return {};
  std::optional<std::size_t> length;
  std::size_t line = input.find("\r\n");  // the request line is not a header
  while (line < head_end) {
    const std::size_t start = line + 2;
    line = input.find("\r\n", start);
    const std::string_view header = input.substr(start, line - start);
    const std::size_t colon = header.find(':');
    if (colon == std::string_view::npos) continue;  // the parser judges it
    const std::string_view name = header.substr(0, colon);
    std::string_view value = header.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (is_named(name, "transfer-encoding")) {
      return {Frame::Kind::kInvalid, 0,
              "a body must come with Content-Length, not Transfer-Encoding"};
    }
    if (!is_named(name, "content-length")) continue;
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (length || value.empty() || ec != std::errc() || end != value.data() + value.size()) {
      return {Frame::Kind::kInvalid, 0, "one Content-Length, a decimal number, is expected"};
    }
    if (n > (std::size_t{1} << 40))
      return {Frame::Kind::kInvalid, 0, "Content-Length out of range"};
    length = n;
  }
  const std::size_t size = head_end + 4 + length.value_or(0);
  return {input.size() >= size ? Frame::Kind::kComplete : Frame::Kind::kIncomplete, size, ""};
}

}  // namespace fsm::http

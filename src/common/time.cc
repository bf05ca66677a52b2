#include "common/time.h"

#include <date/date.h>

#include <sstream>

namespace fsm {

Timestamp now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());
}

std::string format_rfc3339(Timestamp t) {
  auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
  return date::format("%FT%TZ", ms);
}

std::optional<Timestamp> parse_rfc3339(std::string_view text) {
  // RFC 3339 requires a date, 'T' (or 't'/' '), a time and an offset.
  if (text.size() < 20 || text.size() > 40) return std::nullopt;
  std::string s(text);
  if (s[10] == 't' || s[10] == ' ') s[10] = 'T';
  if (s.back() == 'z') s.back() = 'Z';
  std::istringstream in(s);
  date::sys_time<std::chrono::microseconds> tp;
  if (s.back() == 'Z') {
    in >> date::parse("%FT%TZ", tp);
  } else {
    std::chrono::minutes offset{};
    in >> date::parse("%FT%T%Ez", tp, offset);
    if (in.fail()) {
      in.clear();
      in.str(s);
      in >> date::parse("%FT%T%z", tp, offset);
    }
  }
  if (in.fail()) return std::nullopt;
  in.peek();
  if (!in.eof()) return std::nullopt;  // trailing garbage
  return Timestamp(tp);
}

}  // namespace fsm

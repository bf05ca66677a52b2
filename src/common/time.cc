#include "common/time.h"

#include <date/date.h>

#include <cstdio>
#include <sstream>

namespace fsm {

Timestamp now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());
}

std::string format_rfc3339(Timestamp t) {
  // By hand rather than date::format: replays format a few per event, and
  // the stream-based formatter costs more than the rest of the fold.
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
  const auto day = std::chrono::floor<date::days>(ms);
  const date::year_month_day ymd(day);
  const date::hh_mm_ss<std::chrono::milliseconds> tod(ms - day);
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) return date::format("%FT%TZ", ms);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", year,
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                static_cast<int>(tod.seconds().count()),
                static_cast<int>(tod.subseconds().count()));
  return buf;
}

namespace {

// The exact shape of RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM),
// checked before date::parse sees the text. date's %T reads seconds as a
// floating-point number, and some garbage there ("09:title") becomes a NaN
// that it converts to an integer: undefined behaviour (found by fuzzing).
bool rfc3339_shape(std::string_view s) {
  auto digits = [&](std::size_t at, std::size_t n) {
    if (at + n > s.size()) return false;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  };
  if (!digits(0, 4) || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2)) return false;
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return false;
  if (!digits(11, 2) || s[13] != ':' || !digits(14, 2) || s[16] != ':' || !digits(17, 2)) {
    return false;
  }
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    const std::size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start || i - start > 9) return false;
  }
  if (i == s.size()) return false;
  if (s[i] == 'Z' || s[i] == 'z') return i + 1 == s.size();
  if (s[i] != '+' && s[i] != '-') return false;
  if (!digits(i + 1, 2)) return false;
  i += 3;
  if (i < s.size() && s[i] == ':') ++i;
  return digits(i, 2) && i + 2 == s.size();
}

}  // namespace

std::optional<Timestamp> parse_rfc3339(std::string_view text, bool* out_of_range) {
  if (out_of_range) *out_of_range = false;
  // RFC 3339 requires a date, 'T' (or 't'/' '), a time and an offset.
  if (text.size() < 20 || text.size() > 40 || !rfc3339_shape(text)) return std::nullopt;
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
  // The range is checked after the offset is applied: 0001-01-01T00:00:00+01:00
  // is in year 0, 9999-12-31T23:59:59-14:00 in year 10000.
  static const Timestamp earliest = date::sys_days(date::year(1) / 1 / 1);
  static const Timestamp after_latest = date::sys_days(date::year(10000) / 1 / 1);
  if (tp < earliest || tp >= after_latest) {
    if (out_of_range) *out_of_range = true;
    return std::nullopt;
  }
  return Timestamp(tp);
}

}  // namespace fsm

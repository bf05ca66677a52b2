// Time in the contract's shape: UTC, RFC 3339, millisecond precision.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace fsm {

using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

Timestamp now();

// `2026-11-28T09:30:00.000Z`
std::string format_rfc3339(Timestamp t);

// The instants the API accepts and answers, in UTC: four-digit years only
// (the contract's format has no room for more) and no year 0 (PostgreSQL has
// none), so from 0001-01-01T00:00:00.000Z through 9999-12-31T23:59:59.999Z.
inline constexpr const char* kEarliestTimestamp = "0001-01-01T00:00:00.000Z";
inline constexpr const char* kLatestTimestamp = "9999-12-31T23:59:59.999Z";

// Accepts any RFC 3339 offset (`Z`, `+02:00`, `-0530`) and fractional seconds
// for an instant that lies, once converted to UTC, within the range above;
// returns nullopt for anything else. `out_of_range` (optional) tells a
// well-formed timestamp outside the range from malformed text.
std::optional<Timestamp> parse_rfc3339(std::string_view text, bool* out_of_range = nullptr);

inline std::int64_t to_unix_micros(Timestamp t) { return t.time_since_epoch().count(); }
inline Timestamp from_unix_micros(std::int64_t us) {
  return Timestamp(std::chrono::microseconds(us));
}

}  // namespace fsm

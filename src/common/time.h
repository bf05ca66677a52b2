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

// Accepts any RFC 3339 offset (`Z`, `+02:00`, `-0530`) and fractional seconds;
// returns nullopt for anything else.
std::optional<Timestamp> parse_rfc3339(std::string_view text);

inline std::int64_t to_unix_micros(Timestamp t) { return t.time_since_epoch().count(); }
inline Timestamp from_unix_micros(std::int64_t us) {
  return Timestamp(std::chrono::microseconds(us));
}

}  // namespace fsm

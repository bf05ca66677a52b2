// Structured logging: one JSON object per line on stdout.
//
// Every line carries `ts`, `level`, `service`, `msg` and, when known, `traceId`;
// callers add their own fields. Secrets (passwords, tokens, hashes) must never be
// passed as fields: nothing here redacts them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace fsm::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Configures the process-wide logger. `level` is one of debug|info|warn|error
// (anything else means info). Safe to call once, before threads start.
void init(std::string service, std::string_view level);

bool enabled(Level level);

void write(Level level, std::string_view msg, const nlohmann::json& fields = nullptr,
           std::string_view trace_id = {});

inline void debug(std::string_view msg, const nlohmann::json& fields = nullptr,
                  std::string_view trace_id = {}) {
  write(Level::kDebug, msg, fields, trace_id);
}
inline void info(std::string_view msg, const nlohmann::json& fields = nullptr,
                 std::string_view trace_id = {}) {
  write(Level::kInfo, msg, fields, trace_id);
}
inline void warn(std::string_view msg, const nlohmann::json& fields = nullptr,
                 std::string_view trace_id = {}) {
  write(Level::kWarn, msg, fields, trace_id);
}
inline void error(std::string_view msg, const nlohmann::json& fields = nullptr,
                  std::string_view trace_id = {}) {
  write(Level::kError, msg, fields, trace_id);
}

}  // namespace fsm::log

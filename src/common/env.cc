#include "common/env.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace fsm::env {

std::string get_string(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}

std::int64_t get_int(const char* name, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  std::string_view text(v);
  std::int64_t out = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size() || out < min || out > max) {
    throw ConfigError(std::string(name) + " must be an integer in [" + std::to_string(min) +
                      ", " + std::to_string(max) + "]");
  }
  return out;
}

bool get_bool(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  std::string_view text(v);
  if (text == "1" || text == "true" || text == "yes") return true;
  if (text == "0" || text == "false" || text == "no") return false;
  throw ConfigError(std::string(name) + " must be 1/0, true/false or yes/no");
}

}  // namespace fsm::env

// Reading configuration from the environment, with typed, range-checked values.
// A malformed value is a startup error (ConfigError), never a silent default.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace fsm::env {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string get_string(const char* name, const std::string& fallback);
std::int64_t get_int(const char* name, std::int64_t fallback, std::int64_t min, std::int64_t max);
bool get_bool(const char* name, bool fallback);

}  // namespace fsm::env

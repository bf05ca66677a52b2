#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/time.h"

namespace fsm::log {
namespace {

struct State {
  std::string service = "fsm";
  Level min_level = Level::kInfo;
  std::shared_ptr<spdlog::logger> logger;
};

State& state() {
  static State s;
  return s;
}

const char* name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

Level parse_level(std::string_view text) {
  if (text == "debug") return Level::kDebug;
  if (text == "warn" || text == "warning") return Level::kWarn;
  if (text == "error") return Level::kError;
  return Level::kInfo;
}

std::shared_ptr<spdlog::logger> make_logger() {
  // The mutex-guarded stdout sink: lines from different threads never interleave.
  auto logger = std::make_shared<spdlog::logger>(
      "fsm", std::make_shared<spdlog::sinks::stdout_sink_mt>());
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

}  // namespace

void init(std::string service, std::string_view level) {
  State& s = state();
  s.service = std::move(service);
  s.min_level = parse_level(level);
  if (!s.logger) s.logger = make_logger();
}

bool enabled(Level level) { return level >= state().min_level; }

void write(Level level, std::string_view msg, const nlohmann::json& fields,
           std::string_view trace_id) {
  State& s = state();
  if (!enabled(level)) return;
  if (!s.logger) s.logger = make_logger();
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = format_rfc3339(now());
  line["level"] = name(level);
  line["service"] = s.service;
  line["msg"] = msg;
  if (!trace_id.empty()) line["traceId"] = trace_id;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      if (!line.contains(it.key())) line[it.key()] = it.value();
    }
  }
  // `replace` keeps a line valid JSON even if a field carried invalid UTF-8.
  s.logger->info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace fsm::log

#include "events/event.h"

namespace fsm::events {

nlohmann::json EventMetadata::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&j](const char* key, const std::string& value) {
    j[key] = value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
  };
  put("account_id", account_id);
  put("actor_id", actor_id);
  put("trace_id", trace_id);
  put("causation_id", causation_id);
  put("correlation_id", correlation_id);
  return j;
}

nlohmann::json RecordedEvent::to_json() const {
  return {{"position", position}, {"stream_id", stream_id}, {"stream_type", stream_type},
          {"version", version},   {"type", type},           {"data", data},
          {"metadata", metadata}, {"recorded_at", format_rfc3339(recorded_at)}};
}

}  // namespace fsm::events

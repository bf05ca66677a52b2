#include "http/health.h"

#include "common/time.h"

namespace fsm::http {

Handler make_health_handler(std::string service, std::vector<HealthCheck> checks) {
  return [service = std::move(service), checks = std::move(checks)](const Request&) {
    bool ok = true;
    nlohmann::json results = nlohmann::json::object();
    for (const auto& check : checks) {
      const bool passed = check.ok();
      results[check.name] = passed ? "ok" : "fail";
      ok = ok && passed;
    }
    nlohmann::json body = {{"status", ok ? "ok" : "degraded"},
                           {"service", service},
                           {"checks", std::move(results)},
                           {"ts", format_rfc3339(now())}};
    auto res = Response::json(ok ? 200 : 503, std::move(body));
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
  };
}

}  // namespace fsm::http

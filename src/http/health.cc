#include "http/health.h"

#include "common/time.h"

namespace fsm::http {

Handler make_health_handler(std::string service, std::function<bool()> db_ok) {
  return [service = std::move(service), db_ok = std::move(db_ok)](const Request&) {
    const bool ok = db_ok();
    nlohmann::json body = {{"status", ok ? "ok" : "degraded"},
                           {"service", service},
                           {"checks", {{"db", ok ? "ok" : "fail"}}},
                           {"ts", format_rfc3339(now())}};
    auto res = Response::json(ok ? 200 : 503, std::move(body));
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
  };
}

}  // namespace fsm::http

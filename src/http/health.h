// GET /api/health: liveness of the process and its database, for Compose,
// cron and uptime monitors. Never blocks on the database (see DbMonitor).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/types.h"

namespace fsm::http {

// A named check of the answer's `checks` ("db", "worker"); each must answer
// immediately. The status is ok (200) only when every check is.
struct HealthCheck {
  std::string name;
  std::function<bool()> ok;
};
Handler make_health_handler(std::string service, std::vector<HealthCheck> checks);

}  // namespace fsm::http

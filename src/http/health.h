// GET /api/health: liveness of the process and its database, for Compose,
// cron and uptime monitors. Never blocks on the database (see DbMonitor).
#pragma once

#include <functional>
#include <string>

#include "http/types.h"

namespace fsm::http {

// `db_ok` must answer immediately.
Handler make_health_handler(std::string service, std::function<bool()> db_ok);

}  // namespace fsm::http

// fsmctl: the operator's command line. Every command reads DATABASE_URL unless
// --database-url is given, prints JSON on stdout, and exits non-zero on failure.
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "events/migrator.h"

namespace {

std::string database_url(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("DATABASE_URL");
  if (env && *env) return env;
  throw CLI::ValidationError("--database-url", "DATABASE_URL is not set");
}

}  // namespace

int main(int argc, char** argv) {
  fsm::log::init("fsmctl", std::getenv("LOG_LEVEL") ? std::getenv("LOG_LEVEL") : "warn");
  if (sodium_init() < 0) return 1;
  setenv("PGCONNECT_TIMEOUT", "5", 0);

  CLI::App app{"fsmctl: operate an ai-fsm installation"};
  app.require_subcommand(1);
  std::string db_flag;
  app.add_option("--database-url", db_flag, "PostgreSQL URL (default: $DATABASE_URL)");

  auto* migrate = app.add_subcommand("migrate", "apply pending database migrations");

  CLI11_PARSE(app, argc, argv);

  try {
    if (migrate->parsed()) {
      const auto report = fsm::events::migrate(database_url(db_flag));
      std::cout << nlohmann::json{{"applied", report.applied},
                                  {"current_version", report.current_version}}
                       .dump()
                << std::endl;
    }
    return 0;
  } catch (const CLI::Error& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << nlohmann::json{{"error", e.what()}}.dump() << std::endl;
    return 1;
  }
}

// fsm-web: the HTTP API. Configuration comes only from the environment
// (docs/CONFIGURATION.md lists every variable).
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/resource.h>

#include <cstdlib>

#include "commands/command_runner.h"
#include "commands/passwords.h"
#include "common/env.h"
#include "common/log.h"
#include "events/db_monitor.h"
#include "events/pg_event_store.h"
#include "events/pg_pool.h"
#include "http/api.h"
#include "http/auth.h"
#include "http/health.h"
#include "http/router.h"
#include "http/server.h"

namespace {

struct WebConfig {
  std::string database_url;
  fsm::http::ServerConfig server;
  std::size_t pool_size = 0;
  fsm::events::PgPoolOptions pool_options;
  std::chrono::milliseconds health_interval{1000};
  std::chrono::milliseconds health_timeout{1500};
  std::string log_level;

  static WebConfig from_env() {
    namespace env = fsm::env;
    WebConfig c;
    c.database_url = env::get_string("DATABASE_URL", "");
    if (c.database_url.empty()) throw env::ConfigError("DATABASE_URL is required");
    c.log_level = env::get_string("LOG_LEVEL", "info");
    c.server.host = env::get_string("FSM_HTTP_HOST", "0.0.0.0");
    c.server.port = static_cast<std::uint16_t>(env::get_int("PORT", 3000, 0, 65535));
    c.server.threads = static_cast<int>(env::get_int("FSM_HTTP_THREADS", 2, 1, 64));
    c.server.workers = static_cast<int>(env::get_int("FSM_HTTP_WORKERS", 8, 1, 256));
    c.server.slow_workers = static_cast<int>(env::get_int("FSM_HTTP_SLOW_WORKERS", 2, 1, 64));
    // One connection per worker: a handler never waits for a connection.
    c.pool_size = static_cast<std::size_t>(
        env::get_int("FSM_DB_POOL_SIZE", c.server.workers, 1, 256));
    c.server.max_body_bytes = static_cast<std::size_t>(
        env::get_int("FSM_MAX_BODY_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024));
    c.server.max_head_bytes =
        static_cast<std::size_t>(env::get_int("FSM_MAX_HEAD_BYTES", 32 * 1024, 1024, 1024 * 1024));
    c.server.max_queued_requests =
        static_cast<std::size_t>(env::get_int("FSM_HTTP_MAX_QUEUED_REQUESTS", 64, 1, 10000));
    c.server.max_connections =
        static_cast<std::size_t>(env::get_int("FSM_HTTP_MAX_CONNECTIONS", 1024, 1, 1000000));
    c.server.max_held_output_bytes = static_cast<std::size_t>(env::get_int(
        "FSM_HTTP_MAX_HELD_OUTPUT_BYTES", 8 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024));
    c.server.request_timeout =
        std::chrono::milliseconds(env::get_int("FSM_HTTP_REQUEST_TIMEOUT_MS", 10000, 100, 3600000));
    c.server.write_timeout =
        std::chrono::milliseconds(env::get_int("FSM_HTTP_WRITE_TIMEOUT_MS", 10000, 100, 3600000));
    c.server.idle_timeout =
        std::chrono::milliseconds(env::get_int("FSM_HTTP_IDLE_TIMEOUT_MS", 60000, 100, 3600000));
    c.pool_options.statement_timeout =
        std::chrono::milliseconds(env::get_int("FSM_DB_STATEMENT_TIMEOUT_MS", 5000, 100, 3600000));
    c.pool_options.acquire_timeout = std::chrono::milliseconds(env::get_int(
        "FSM_DB_ACQUIRE_TIMEOUT_MS", c.pool_options.statement_timeout.count(), 100, 3600000));
    c.server.drain_timeout =
        std::chrono::milliseconds(env::get_int("FSM_SHUTDOWN_TIMEOUT_MS", 10000, 0, 600000));
    c.health_interval =
        std::chrono::milliseconds(env::get_int("FSM_HEALTH_INTERVAL_MS", 1000, 50, 60000));
    c.health_timeout =
        std::chrono::milliseconds(env::get_int("FSM_HEALTH_TIMEOUT_MS", 1500, 50, 1900));
    return c;
  }
};

// Each connection holds a descriptor (two: Pistache's and ours): take the
// hard limit, so connection limits are ours (FSM_HTTP_MAX_CONNECTIONS), not
// the soft default of 1024 descriptors.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main() {
  const auto process_start = std::chrono::steady_clock::now();
  // RSS near what is in use (docs/CONFIGURATION.md; bench/soak.sh: 61 MB
  // peak under attack with glibc's defaults, 45 MB with these). glibc gives
  // each allocating thread its own arena (up to 8 per core), and freed memory
  // stays in them; and after a large buffer (a list answer) is freed it
  // raises its mmap threshold, so later ones come from, and stay in, the
  // heap. MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ override these.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  // Signals are taken synchronously by this thread (sigwait); every thread
  // started below inherits the mask. SIGPIPE would kill us on a closed socket.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  WebConfig config;
  try {
    config = WebConfig::from_env();
  } catch (const fsm::env::ConfigError& e) {
    fsm::log::init("web", "info");
    fsm::log::error("invalid configuration", {{"error", e.what()}});
    return 2;
  }
  fsm::log::init("web", config.log_level);
  if (sodium_init() < 0) {
    fsm::log::error("libsodium failed to initialise");
    return 1;
  }
  // A hung or unreachable database must not block a connect forever.
  setenv("PGCONNECT_TIMEOUT", "3", /*overwrite=*/0);

  try {
    raise_open_file_limit();
    fsm::events::PgPool pool(config.database_url, config.pool_size, config.pool_options);
    pool.add_preparer(fsm::commands::prepare);
    // One connection now, on this thread: the first request does not pay for
    // it, and libpqxx's lazily built statics (its encoding table) are made
    // before the workers start (ThreadSanitizer cannot see their guard in the
    // uninstrumented library). A database that is down is no reason to stop.
    try {
      pool.acquire();
    } catch (const fsm::events::DbUnavailable&) {
    }
    auto hasher = fsm::commands::PasswordHasher::from_env();
    fsm::http::Auth auth(pool, *hasher, fsm::http::AuthConfig::from_env());

    fsm::events::DbMonitor monitor(config.database_url, config.health_interval,
                                   config.health_timeout);
    monitor.probe_once();  // so the first health answer is already real
    monitor.start();

    fsm::http::Router router;
    // Inline: health answers on the I/O thread, whatever the pools are doing.
    router.add(fsm::http::Method::kGet, "/api/health",
               fsm::http::refusing_query(fsm::http::make_health_handler(
                   "web", {{"db", [&monitor] { return monitor.healthy(); }},
                           {"worker", [&monitor] { return monitor.worker_alive(); }}})),
               fsm::http::Lane::kInline);
    auth.register_routes(router);
    fsm::http::Api api(pool, auth, *hasher, fsm::http::IdempotencyConfig::from_env());
    api.register_routes(router);

    fsm::http::Server server(config.server, router);
    const auto port = server.start();
    const auto startup_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - process_start)
                                .count();
    fsm::log::info("fsm-web ready", {{"port", port},
                                     {"startup_ms", startup_ms},
                                     {"threads", config.server.threads},
                                     {"workers", config.server.workers},
                                     {"db_pool", config.pool_size},
                                     {"db", monitor.healthy() ? "ok" : "fail"}});

    int sig = 0;
    sigwait(&stop_signals, &sig);
    fsm::log::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    const int unfinished = server.drain_and_stop();
    monitor.stop();
    fsm::log::info("fsm-web stopped", {{"unfinished_requests", unfinished}});
    return 0;
  } catch (const fsm::env::ConfigError& e) {
    fsm::log::error("invalid configuration", {{"error", e.what()}});
    return 2;
  } catch (const std::exception& e) {
    fsm::log::error("fsm-web failed", {{"error", e.what()}});
    return 1;
  }
}

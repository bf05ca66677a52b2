// fsm-worker: automations (reminders, follow-ups), overdue and expiry
// transitions, and the delivery of notifications. Configuration comes only
// from the environment (docs/CONFIGURATION.md).
//
//   fsm-worker            poll every WORKER_POLL_MS, and at once when an
//                         automation is created or made due (LISTEN)
//   fsm-worker --once     one pass and the deliveries it made, then exit 0
//   fsm-worker --health   exit 0 when some worker passed within 3 poll
//                         intervals, 1 otherwise (a container healthcheck)
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "commands/command_runner.h"
#include "common/env.h"
#include "common/log.h"
#include "events/heartbeat.h"
#include "events/pg_pool.h"
#include "worker/delivery.h"
#include "worker/notifier.h"
#include "worker/stop_signal.h"
#include "worker/worker.h"

namespace {

namespace env = fsm::env;
namespace log = fsm::log;
using std::chrono::milliseconds;

struct WorkerConfig {
  std::string database_url;
  int poll_ms = 30000;
  std::string log_level;
  std::string instance;
  bool notify_http = false;  // FSM_NOTIFY_URL set (read by notifier_from_env)

  static WorkerConfig from_env() {
    WorkerConfig c;
    c.database_url = env::get_string("DATABASE_URL", "");
    if (c.database_url.empty()) throw env::ConfigError("DATABASE_URL is required");
    c.poll_ms = static_cast<int>(env::get_int("WORKER_POLL_MS", 30000, 100, 24 * 3600 * 1000));
    c.log_level = env::get_string("LOG_LEVEL", "info");
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    c.instance =
        env::get_string("FSM_WORKER_INSTANCE", std::string(host) + ":" + std::to_string(getpid()));
    c.notify_http = !env::get_string("FSM_NOTIFY_URL", "").empty();
    return c;
  }
};

// The wait after the database failed `failures` times in a row: 1 s, 2 s, ... 30 s.
milliseconds retry_wait(int failures) {
  return std::min(milliseconds(1000 * (1 << std::clamp(failures - 1, 0, 5))), milliseconds(30000));
}

// Wakes `passes` whenever an automation is created or made due: the
// automations table NOTIFYs fsm_automations (db/009). Own connection,
// reopened with backoff when it breaks; the poll interval covers any gap.
void listen(const std::string& url, fsm::worker::StopSignal& passes) {
  int failures = 0;
  while (!passes.stop_requested()) {
    try {
      pqxx::connection conn(url);
      struct Wake : pqxx::notification_receiver {
        Wake(pqxx::connection_base& c, fsm::worker::StopSignal& s)
            : pqxx::notification_receiver(c, "fsm_automations"), signal(s) {}
        void operator()(const std::string&, int) override { signal.wake(); }
        fsm::worker::StopSignal& signal;
      } receiver(conn, passes);
      failures = 0;
      while (!passes.stop_requested()) conn.await_notification(1, 0);
    } catch (const std::exception& e) {
      if (passes.stop_requested()) break;
      ++failures;
      log::warn("listen failed", {{"error", e.what()}});
      passes.wait_for(retry_wait(failures));
    }
  }
}

int health(const WorkerConfig& config) {
  try {
    pqxx::connection conn(config.database_url);
    pqxx::nontransaction tx(conn);
    const bool alive = fsm::events::worker_alive(tx);
    std::printf("%s\n", alive ? "ok" : "fail: no worker pass within 3 poll intervals");
    return alive ? 0 : 1;
  } catch (const std::exception& e) {
    std::printf("fail: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool once = false, check_health = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--once") == 0) {
      once = true;
    } else if (std::strcmp(argv[i], "--health") == 0) {
      check_health = true;
    } else {
      std::fprintf(stderr, "usage: fsm-worker [--once | --health]\n");
      return 2;
    }
  }
  // Small and steady (docs/BENCHMARKS.md: RSS < 24 MB): few threads, one arena.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 1);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  WorkerConfig config;
  try {
    config = WorkerConfig::from_env();
  } catch (const env::ConfigError& e) {
    log::init("worker", "info");
    log::error("invalid configuration", {{"error", e.what()}});
    return 2;
  }
  log::init("worker", config.log_level);
  if (sodium_init() < 0) {
    log::error("libsodium failed to initialise");
    return 1;
  }
  setenv("PGCONNECT_TIMEOUT", "3", /*overwrite=*/0);
  if (check_health) return health(config);

  // Passes and the heartbeat; delivery (one held by its subscription, one
  // to record a failed attempt); an automation's session lock.
  fsm::events::PgPool pool(config.database_url, 4);
  pool.add_preparer(fsm::commands::prepare);
  std::unique_ptr<fsm::worker::Notifier> notifier;
  try {
    notifier = fsm::worker::notifier_from_env();
  } catch (const std::exception& e) {
    log::error("invalid configuration", {{"error", e.what()}});
    return 2;
  }
  fsm::worker::StopSignal passes, deliveries;
  std::atomic<bool> finished{false};  // the signal below is ours, not the operator's
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (!finished) log::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    passes.request_stop();
    deliveries.request_stop();
  });
  fsm::worker::Worker worker(
      pool, [] { return fsm::now(); }, &passes);
  fsm::worker::Delivery delivery(pool, *notifier);
  std::thread listener, deliverer;
  if (!once) {
    listener = std::thread([&] { listen(config.database_url, passes); });
    deliverer = std::thread([&] { delivery.run(deliveries, milliseconds(config.poll_ms)); });
  }
  log::info("fsm-worker ready", {{"poll_ms", config.poll_ms},
                                 {"instance", config.instance},
                                 {"notify", config.notify_http ? "http" : "log"},
                                 {"once", once}});

  int failures = 0, exit_code = 0;
  while (!passes.stop_requested()) {
    try {
      const auto summary = worker.pass();
      std::int64_t purged = 0;
      pool.run([&](pqxx::connection& conn) {
        pqxx::work tx(conn);
        fsm::events::record_heartbeat(tx, config.instance, config.poll_ms, summary.to_json());
        purged = fsm::events::purge_expired_state(tx);
        tx.commit();
      });
      auto line = summary.to_json();
      line["purged"] = purged;
      log::info("pass", line);
      failures = 0;
      if (summary.sent > 0) deliveries.wake();
    } catch (const std::exception& e) {
      // The database is down or restarting: wait and try again, never exit.
      ++failures;
      log::error("pass failed", {{"error", e.what()}, {"failures", failures}});
      if (once) {
        exit_code = 1;
        break;
      }
      passes.wait_for(retry_wait(failures));
      continue;
    }
    if (once) {
      // The deliveries this pass made, without waiting out a retry's backoff.
      try {
        const auto delivered = delivery.run_until_idle(&deliveries);
        log::info("deliveries", {{"delivered", delivered.delivered},
                                 {"failed", delivered.failed},
                                 {"waiting", delivered.retry_after.has_value()}});
      } catch (const std::exception& e) {
        log::error("delivery failed", {{"error", e.what()}});
        exit_code = 1;
      }
      break;
    }
    passes.wait_for(milliseconds(config.poll_ms));
  }
  passes.request_stop();
  deliveries.request_stop();
  if (listener.joinable()) listener.join();
  if (deliverer.joinable()) deliverer.join();
  // The signal thread still waits when no signal came (--once, or the pass
  // loop ended otherwise): end its wait with a signal of its set.
  finished = true;
  pthread_kill(signals.native_handle(), SIGINT);
  signals.join();
  log::info("fsm-worker stopped");
  return exit_code;
}

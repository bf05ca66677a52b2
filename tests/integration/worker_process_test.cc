// fsm-worker as a process: its heartbeat in /api/health and --health, a
// PostgreSQL stopped under it, SIGTERM.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/wait.h>

#include <thread>

#include "commands/accounts.h"
#include "commands/services.h"
#include "common/time.h"
#include "domain/automation.h"
#include "domain/client.h"
#include "domain/job.h"
#include "domain/visit.h"
#include "events/migrator.h"
#include "projections/replay.h"
#include "support/test_env.h"

namespace fsm::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

long long count(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  return pqxx::nontransaction(conn).exec1(sql)[0].as<long long>();
}

// `fsm-worker ARGS` run to its end against `url`: its exit status.
int run_worker(const std::string& url, const std::vector<std::string>& args) {
  const std::string bin = required_env("FSM_WORKER_BIN");
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("DATABASE_URL", url.c_str(), 1);
    setenv("LOG_LEVEL", "error", 1);
    setenv("WORKER_POLL_MS", "60000", 1);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

// An account with `visits` visits starting in 2 h and a reminder automation
// due now, made through the commands (as the API would).
void seed(const std::string& url, int visits) {
  events::PgPool pool(url, 2);
  pool.add_preparer(commands::prepare);
  commands::PasswordHasher hasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, 1);
  const auto account =
      commands::create_account(pool, hasher, {"Acme", "o@acme.test", "O", "correct horse b"}, "t");
  ASSERT_TRUE(account);
  const commands::Actor owner{account->account_id, account->owner_id, "owner", "t"};
  const commands::Context ctx{pool, owner};
  auto v = [](const json& body, const std::vector<domain::FieldSpec>& specs) {
    return *domain::validate_body(body, specs, domain::Mode::kCreate);
  };
  const auto client = commands::client::create(ctx, v({{"name", "C"}}, domain::client::fields()));
  const auto job =
      commands::job::create(ctx, v({{"client_id", client->events[0].stream_id}, {"title", "T"}},
                                   domain::job::create_fields()));
  for (int i = 0; i < visits; ++i) {
    const auto start = now() + std::chrono::hours(2) + std::chrono::seconds(i);
    ASSERT_TRUE(commands::visit::create(
        ctx, job->events[0].stream_id,
        v({{"scheduled_start", format_rfc3339(start)},
           {"scheduled_end", format_rfc3339(start + std::chrono::hours(1))}},
          domain::visit::create_fields())));
  }
  ASSERT_TRUE(commands::automation::create(
      ctx, v({{"type", "visit_reminder"}}, domain::automation::create_fields())));
}

TEST(WorkerProcess, HealthSaysWhetherAWorkerPassedWithinThreePollIntervals) {
  TestDatabase db;
  count(db.url(), "WITH d AS (DELETE FROM worker_heartbeats RETURNING 1) SELECT count(*) FROM d");
  WebProcess web({{"DATABASE_URL", db.url()}, {"FSM_HEALTH_INTERVAL_MS", "100"}});
  HttpClient c(web.port());
  auto health = c.request("GET", "/api/health");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.json()["checks"]["db"], "ok");
  EXPECT_EQ(health.json()["checks"]["worker"], "fail");
  EXPECT_EQ(run_worker(db.url(), {"--health"}), 1) << "no worker ever passed";

  ASSERT_EQ(run_worker(db.url(), {"--once"}), 0);
  EXPECT_EQ(run_worker(db.url(), {"--health"}), 0);
  EXPECT_TRUE(eventually([&] { return c.request("GET", "/api/health").status == 200; }, 3s));
  EXPECT_EQ(c.request("GET", "/api/health").json()["checks"]["worker"], "ok");

  // Its last pass 4 minutes ago, polling every minute: 3 intervals missed.
  count(db.url(),
        "WITH u AS (UPDATE worker_heartbeats SET last_pass_at = now() - interval "
        "'4 minutes' RETURNING 1) SELECT count(*) FROM u");
  EXPECT_EQ(run_worker(db.url(), {"--health"}), 1);
  EXPECT_TRUE(eventually([&] { return c.request("GET", "/api/health").status == 503; }, 3s));
}

// Sessions and Idempotency-Keys are not in the log and would grow forever:
// each pass removes those nothing can use any more, and nothing else.
TEST(WorkerProcess, APassRemovesEndedSessionsAndExpiredIdempotencyKeys) {
  TestDatabase db;
  count(
      db.url(),
      "WITH s AS (INSERT INTO sessions (token_hash, user_id, account_id, expires_at, revoked_at)"
      " VALUES ('\\x01', gen_random_uuid(), gen_random_uuid(), now() - interval '1 second', NULL),"
      "        ('\\x02', gen_random_uuid(), gen_random_uuid(), now() + interval '1 day',"
      "         now() - interval '2 hours'),"
      "        ('\\x03', gen_random_uuid(), gen_random_uuid(), now() + interval '1 day', NULL),"
      "        ('\\x04', gen_random_uuid(), gen_random_uuid(), now() + interval '1 day',"
      "         now() - interval '1 minute') RETURNING 1) SELECT count(*) FROM s");
  count(
      db.url(),
      "WITH k AS (INSERT INTO idempotency_keys"
      " (user_id, key, request_hash, state, claim, created_at) VALUES"
      " (gen_random_uuid(), 'old', '\\x00', 'done', gen_random_uuid(), now() - interval '25 "
      "hours'),"
      " (gen_random_uuid(), 'new', '\\x00', 'done', gen_random_uuid(), now() - interval '23 hours')"
      " RETURNING 1) SELECT count(*) FROM k");

  ASSERT_EQ(run_worker(db.url(), {"--once"}), 0);
  pqxx::connection conn(db.url());
  pqxx::nontransaction q(conn);
  // Kept: the live session, the one revoked a minute ago, the key within 24 h.
  EXPECT_EQ(q.exec1("SELECT string_agg(encode(token_hash, 'hex'), ',' ORDER BY token_hash)"
                    " FROM sessions")[0]
                .as<std::string>(),
            "03,04");
  EXPECT_EQ(q.exec1("SELECT string_agg(key, ',') FROM idempotency_keys")[0].as<std::string>(),
            "new");
}

// Stopped for 10 s under a running worker: it logs, waits, resumes, and the
// work that arrived meanwhile is done.
TEST(WorkerProcess, SurvivesAStoppedDatabaseAndCatchesUp) {
  ASSERT_GE(sodium_init(), 0);
  PgCluster pg;
  const std::string url = pg.url();
  events::migrate(url);
  WebProcess worker({{"DATABASE_URL", url}, {"WORKER_POLL_MS", "200"}, {"LOG_LEVEL", "info"}},
                    kWorkerProcess);
  ASSERT_TRUE(
      eventually([&] { return count(url, "SELECT count(*) FROM worker_heartbeats") == 1; }, 5s));
  pg.stop();
  std::this_thread::sleep_for(10s);
  ASSERT_TRUE(worker.running()) << "a stopped database is no reason to exit";
  pg.start();

  seed(url, 1);  // work for it: a visit in 2 h and a due reminder automation

  EXPECT_TRUE(eventually(
      [&] {
        return count(url,
                     "SELECT count(*) FROM events WHERE event_type = 'VisitReminderCreated'") == 1;
      },
      20s));
  EXPECT_TRUE(eventually(
      [&] {
        return count(url,
                     "SELECT count(*) FROM worker_heartbeats WHERE last_pass_at > now() - "
                     "interval '2 seconds'") == 1;
      },
      10s));
  bool logged = false;
  for (const auto& line : worker.log_lines()) {
    logged =
        logged || (line.value("level", "") == "error" && line.value("msg", "") == "pass failed");
    EXPECT_EQ(line.value("service", ""), "worker");
  }
  EXPECT_TRUE(logged) << "the outage is logged at error";
  EXPECT_EQ(worker.terminate(), 0) << "SIGTERM: exit 0";
}

// Rebuilds of every projection while a worker creates and delivers: nothing
// is created or sent twice (the delivery checkpoint is not a projection's).
TEST(WorkerProcess, RebuildsWhileItRunsSendNothingTwice) {
  ASSERT_GE(sodium_init(), 0);
  TestDatabase db;
  constexpr int kVisits = 60;
  seed(db.url(), kVisits);
  WebProcess worker({{"DATABASE_URL", db.url()}, {"WORKER_POLL_MS", "200"}, {"LOG_LEVEL", "info"}},
                    kWorkerProcess);
  for (int i = 0; i < 3; ++i) projections::rebuild(db.url());
  ASSERT_TRUE(eventually(
      [&] {
        return count(db.url(),
                     "SELECT count(*) FROM events WHERE event_type = "
                     "'VisitReminderDelivered'") == kVisits;
      },
      30s));
  projections::rebuild(db.url());
  std::this_thread::sleep_for(1s);  // passes and deliveries go on after it
  EXPECT_EQ(worker.terminate(), 0);
  EXPECT_EQ(
      count(db.url(), "SELECT count(*) FROM events WHERE event_type = 'VisitReminderCreated'"),
      kVisits);
  EXPECT_EQ(count(db.url(),
                  "SELECT count(*) FROM events WHERE event_type = "
                  "'VisitReminderDelivered'"),
            kVisits)
      << "each delivered once";
  int logged = 0;  // the LogNotifier's line per send
  for (const auto& line : worker.log_lines()) {
    if (line.value("msg", "") == "notification" && line.value("kind", "") == "visit_reminder") {
      ++logged;
    }
  }
  EXPECT_EQ(logged, kVisits) << "each sent once";
}

}  // namespace
}  // namespace fsm::testing

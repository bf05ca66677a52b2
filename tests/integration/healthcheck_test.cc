// ops/healthcheck, the cron check of a deployment, against a real fsm-web:
// quiet and exit 0 while all is well; one alert (ntfy's Title header, the
// problem in the body) and exit 1 when health is degraded or unreachable or
// the newest backup is stale.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "support/http_receiver.h"
#include "support/test_env.h"

namespace fsm::testing {
namespace {

using namespace std::chrono_literals;

// ops/healthcheck with exactly `env` (and PATH): its exit status.
int healthcheck(const std::map<std::string, std::string>& env) {
  const std::string script = std::string(FSM_SOURCE_DIR) + "/ops/healthcheck";
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<std::string> vars{"PATH=" + std::string(getenv("PATH"))};
    for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& v : vars) envp.push_back(v.data());
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>("bash"), const_cast<char*>(script.c_str()), nullptr};
    execve("/bin/bash", argv, envp.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string health_url(int port) {
  return "http://127.0.0.1:" + std::to_string(port) + "/api/health";
}

TEST(Healthcheck, QuietWhenHealthyAlertsOnceWhenDegradedOrUnreachable) {
  TestDatabase db;
  WebProcess web({{"DATABASE_URL", db.url()}, {"FSM_HEALTH_INTERVAL_MS", "100"}});
  HttpReceiver ntfy;
  const std::map<std::string, std::string> env{{"FSM_HEALTH_URL", health_url(web.port())},
                                               {"FSM_ALERT_URL", ntfy.url("/my-topic")}};
  EXPECT_EQ(healthcheck(env), 0);
  EXPECT_TRUE(ntfy.requests().empty());

  // No worker pass for 4 of its minute-long intervals: 503 degraded.
  pqxx::connection conn(db.url());
  pqxx::nontransaction(conn).exec(
      "UPDATE worker_heartbeats SET poll_ms = 60000, last_pass_at = now() - interval '4 minutes'");
  HttpClient c(web.port());
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (c.request("GET", "/api/health").status != 503 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(healthcheck(env), 1);
  auto sent = ntfy.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "POST");
  EXPECT_EQ(sent[0].target, "/my-topic");
  EXPECT_EQ(sent[0].headers["title"], "ai-fsm alert");
  EXPECT_NE(sent[0].body.find("health degraded (worker failing)"), std::string::npos)
      << sent[0].body;

  // Nothing listening.
  HttpReceiver gone;
  gone.refuse();
  auto down = env;
  down["FSM_HEALTH_URL"] = health_url(gone.port());
  EXPECT_EQ(healthcheck(down), 1);
  sent = ntfy.requests();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[1].body.find("health unreachable"), std::string::npos) << sent[1].body;
}

TEST(Healthcheck, AlertsWhenTheNewestBackupIsStale) {
  TestDatabase db;
  WebProcess web({{"DATABASE_URL", db.url()}});
  HttpReceiver ntfy;
  const auto dir = std::filesystem::path(required_env("FSM_TEST_SCRATCH")) /
                   ("healthcheck-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::map<std::string, std::string> env{{"FSM_HEALTH_URL", health_url(web.port())},
                                         {"FSM_ALERT_URL", ntfy.url()},
                                         {"FSM_BACKUP_DIR", dir.string()},
                                         {"FSM_BACKUP_INTERVAL_HOURS", "24"}};
  EXPECT_EQ(healthcheck(env), 1) << "no backup at all";
  const auto dump = dir / "ai_fsm_20261201T030000Z.dump";
  { std::ofstream(dump) << "x"; }
  EXPECT_EQ(healthcheck(env), 0) << "a fresh one";
  std::filesystem::last_write_time(dump, std::filesystem::file_time_type::clock::now() - 27h);
  EXPECT_EQ(healthcheck(env), 1) << "27 h old, daily backups";
  const auto sent = ntfy.requests();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[0].body.find("no backup in"), std::string::npos) << sent[0].body;
  EXPECT_NE(sent[1].body.find("newest backup is 27 h old"), std::string::npos) << sent[1].body;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fsm::testing

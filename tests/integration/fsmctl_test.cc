// The real fsmctl binary, as a cron job runs it: its exit codes (0 clean,
// 1 check failed, 2 usage error, 3 database unreachable) and where --json may go.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "commands/accounts.h"
#include "commands/command_runner.h"
#include "commands/services.h"
#include "common/uuid.h"
#include "support/test_env.h"

namespace fsm {
namespace {

using nlohmann::json;

struct Run {
  int code = -1;  // the exit code; -1 when killed by a signal
  std::string out, err;
  std::chrono::milliseconds took{0};
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs fsmctl with `args`, `input` on its stdin. DATABASE_URL is unset in the
// child unless given in `database_url`: every test names its database on purpose.
Run fsmctl(const std::vector<std::string>& args, const std::string& database_url = "",
           const std::string& input = "") {
  const std::string ctl = testing::required_env("FSM_CTL_BIN");
  char out_path[] = "/tmp/fsmctl-out-XXXXXX";
  char err_path[] = "/tmp/fsmctl-err-XXXXXX";
  const int out_fd = ::mkstemp(out_path);
  const int err_fd = ::mkstemp(err_path);
  char in_path[] = "/tmp/fsmctl-in-XXXXXX";
  const int in_fd = ::mkstemp(in_path);
  if (::write(in_fd, input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
    throw std::runtime_error("cannot write fsmctl's stdin");
  }
  ::lseek(in_fd, 0, SEEK_SET);
  const auto started = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::dup2(in_fd, 0);
    if (database_url.empty()) {
      ::unsetenv("DATABASE_URL");
    } else {
      ::setenv("DATABASE_URL", database_url.c_str(), 1);
    }
    std::vector<char*> argv{const_cast<char*>(ctl.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(ctl.c_str(), argv.data());
    std::_Exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  Run r;
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ::close(out_fd);
  ::close(err_fd);
  ::close(in_fd);
  ::unlink(in_path);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  return r;
}

// A TCP port on 127.0.0.1 that nothing listens on: connecting is refused.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // bound, never listened on, now closed
  return ntohs(addr.sin_port);
}

class FsmctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    events::PgPool pool(db_.url(), 1);
    pool.add_preparer(commands::prepare);
    commands::PasswordHasher hasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, 1);
    auto acct =
        commands::create_account(pool, hasher, {"A", "o@a.test", "O", "long password"}, "t");
    ASSERT_TRUE(acct.ok());
    const commands::Actor actor{acct->account_id, acct->owner_id, "owner", "fsmctl-test"};
    commands::Command client;
    client.stream_id = new_uuid();
    client.stream_type = "client";
    client.creates = true;
    client.creation =
        domain::DomainEvent{"ClientCreated", {{"account_id", actor.account_id}, {"name", "Ada"}}};
    ASSERT_TRUE(commands::run(pool, actor, client).ok());
    commands::Command job;
    job.stream_id = job_id_ = new_uuid();
    job.stream_type = "job";
    job.creates = true;
    job.creation = domain::DomainEvent{"JobCreated",
                                       {{"account_id", actor.account_id},
                                        {"client_id", client.stream_id},
                                        {"title", "Fix the sink"},
                                        {"priority", "normal"},
                                        {"status", "draft"}}};
    ASSERT_TRUE(commands::run(pool, actor, job).ok());
  }

  void sql(const std::string& statement) {
    pqxx::connection c(db_.url());
    pqxx::work tx(c);
    tx.exec(statement);
    tx.commit();
  }

  testing::TestDatabase db_;
  std::string job_id_;
};

TEST_F(FsmctlTest, VerifyExits0WhenCleanAnd1OnADifference) {
  auto clean = fsmctl({"projections", "verify"}, db_.url());
  EXPECT_EQ(clean.code, 0) << clean.out << clean.err;
  EXPECT_EQ(clean.out, "");

  sql("UPDATE jobs SET title = 'tampered' WHERE id = '" + job_id_ + "'");
  auto dirty = fsmctl({"projections", "verify"}, db_.url());
  EXPECT_EQ(dirty.code, 1) << dirty.out << dirty.err;
  const auto diff = json::parse(dirty.out.substr(0, dirty.out.find('\n')));
  EXPECT_EQ(diff["table"], "jobs");
  EXPECT_EQ(diff["id"], job_id_);
  // Only the tables asked about count; --database-url may follow the subcommand.
  EXPECT_EQ(fsmctl({"projections", "verify", "jobs", "--database-url", db_.url()}).code, 1);
  EXPECT_EQ(fsmctl({"projections", "verify", "clients"}, db_.url()).code, 0);
  // Another "no": an event that does not exist.
  EXPECT_EQ(fsmctl({"events", "show", "999999"}, db_.url()).code, 1);
}

// compose.pi.yml's first start: `account create --first` on every start of
// the migrate service creates the owner once, and never another account.
TEST(FsmctlFirstAccount, CreatedOnceThoughStartedConcurrentlyThenSkipped) {
  testing::TestDatabase db;
  const std::vector<std::string> first{"account",     "create",       "--first",
                                       "--name",      "Acme",         "--owner-email",
                                       "o@acme.test", "--owner-name", "Owner"};
  std::vector<fsm::Run> runs(3);
  std::vector<std::thread> threads;
  for (auto& r : runs) {
    threads.emplace_back([&] { r = fsmctl(first, db.url(), "long enough password\n"); });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (const auto& r : runs) {
    ASSERT_EQ(r.code, 0) << r.err;
    const auto out = json::parse(r.out);
    if (out.contains("account_id")) {
      ++created;
    } else {
      EXPECT_EQ(out, (json{{"skipped", "an account exists already"}}));
    }
  }
  EXPECT_EQ(created, 1);
  pqxx::connection c(db.url());
  EXPECT_EQ(pqxx::nontransaction(c).exec1("SELECT count(*) FROM accounts")[0].as<int>(), 1);

  // Once there is one, --first checks nothing else: a start whose .env still
  // holds a password that no longer passes must not fail.
  const auto skipped = fsmctl(first, db.url(), "short\n");
  EXPECT_EQ(skipped.code, 0) << skipped.err;
  EXPECT_EQ(json::parse(skipped.out), (json{{"skipped", "an account exists already"}}));

  // Without --first, another account is what was asked for.
  auto other = first;
  other.erase(other.begin() + 2);
  other[5] = "o@other.test";
  const auto r = fsmctl(other, db.url(), "long enough password\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out).contains("account_id"));
  EXPECT_EQ(pqxx::nontransaction(c).exec1("SELECT count(*) FROM accounts")[0].as<int>(), 2);
}

TEST_F(FsmctlTest, UsageErrorsExit2) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"projections", "verify", "no_such_projection"},
           {"projections", "rebuild", "jobs", "no_such_projection"},
           {"projections", "verify", "--bogus"},
           {"--bogus", "projections", "status"},
           {"projections", "rebuild", "--batch"},       // missing value
           {"projections", "rebuild", "--batch", "0"},  // out of range
           {"projections", "rebuild", "--until", "yesterday"},
           {"account", "create", "--name", "X"},  // missing required options
           {"events", "show", "--stream", "not-a-uuid"},
           {"no-such-command"},
           {}}) {
    std::string line;
    for (const auto& a : args) line += a + " ";
    auto r = fsmctl(args, db_.url());
    EXPECT_EQ(r.code, 2) << line << "\n" << r.out << r.err;
    EXPECT_FALSE(r.err.empty()) << line << ": says why";
  }
  // No database named anywhere.
  auto unset = fsmctl({"projections", "verify"});
  EXPECT_EQ(unset.code, 2) << unset.err;
  EXPECT_NE(unset.err.find("DATABASE_URL"), std::string::npos) << unset.err;
  // Asking for help is not an error, and the help lists the exit codes.
  auto help = fsmctl({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("Exit codes"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("3  database unreachable"), std::string::npos) << help.out;
}

TEST_F(FsmctlTest, AnUnreachableDatabaseExits3Quickly) {
  const std::string url = "postgresql://fsm@127.0.0.1:" + std::to_string(closed_port()) + "/ai_fsm";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"projections", "verify"},
                                             {"projections", "status"},
                                             {"projections", "rebuild"},
                                             {"events", "tail"},
                                             {"migrate"}}) {
    auto r = fsmctl(args, url);
    EXPECT_EQ(r.code, 3) << args[0] << " " << r.out << r.err;
    EXPECT_LT(r.took, std::chrono::seconds(4))
        << args[0] << ": a refused connection is not waited out";
  }
}

TEST_F(FsmctlTest, JsonIsAcceptedBeforeAndAfterTheSubcommand) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"events", "tail", "--json"},
                                             {"--json", "events", "tail"},
                                             {"events", "--json", "tail"},
                                             {"events", "tail", "--limit", "5", "--json"}}) {
    // `tail` serves an event once every older writing transaction of the
    // cluster has ended, and tests in other databases hold some open a while
    // (a verify, a subscription test): read again until ours are past it.
    int n = 0;
    for (int tries = 0; n < 3 && tries < 300; ++tries) {
      if (tries) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto r = fsmctl(args, db_.url());
      ASSERT_EQ(r.code, 0) << args[0] << " " << args[1] << "\n" << r.err;
      std::istringstream lines(r.out);
      n = 0;
      for (std::string line; std::getline(lines, line); ++n) {
        const auto e = json::parse(line, nullptr, false);
        ASSERT_TRUE(e.is_object()) << line;
        EXPECT_TRUE(e.contains("position") && e.contains("type")) << line;
      }
    }
    EXPECT_GE(n, 3) << "the account's, the client's and the job's events";
  }
  // Without it, the human-readable form.
  auto plain = fsmctl({"events", "tail"}, db_.url());
  EXPECT_EQ(plain.code, 0);
  EXPECT_EQ(plain.out.rfind("#", 0), 0u) << plain.out;
}

// `automations list` and `run-now`: the same rows and event as the API's.
TEST_F(FsmctlTest, AutomationsAreListedAndMadeDueByTheOperator) {
  pqxx::connection c(db_.url());
  const std::string account =
      pqxx::read_transaction(c).exec1("SELECT id::text FROM accounts")[0].c_str();
  events::PgPool pool(db_.url(), 1);
  pool.add_preparer(commands::prepare);
  const commands::Actor owner{account, new_uuid(), "owner", "fsmctl-test"};
  auto created = commands::automation::create(
      {pool, owner}, {{"type", "visit_reminder"}, {"next_run_at", "2030-01-01T00:00:00Z"}});
  ASSERT_TRUE(created.ok());
  const std::string id = json::parse(created->row)["id"];

  auto all = fsmctl({"automations", "list"}, db_.url());
  ASSERT_EQ(all.code, 0) << all.err;
  const json listed = json::parse(all.out.substr(0, all.out.find('\n')));
  EXPECT_EQ(listed, json::parse(created->row)) << "the API's shape";
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 1);
  EXPECT_EQ(fsmctl({"automations", "list", "--account", account}, db_.url()).out, all.out);
  auto none = fsmctl({"automations", "list", "--account", new_uuid()}, db_.url());
  EXPECT_EQ(none.code, 0);
  EXPECT_EQ(none.out, "");

  auto ran = fsmctl({"automations", "run-now", id}, db_.url());
  ASSERT_EQ(ran.code, 0) << ran.err;
  const json row = json::parse(ran.out);
  EXPECT_EQ(row["version"], 2);
  EXPECT_LT(row["next_run_at"].get<std::string>(), "2030");
  pqxx::read_transaction tx(c);
  EXPECT_EQ(tx.exec_params1("SELECT metadata->>'actor_id' || ' ' || event_type FROM events"
                            " WHERE stream_id = $1 AND stream_version = 2",
                            id)[0]
                .as<std::string>(),
            "operator:fsmctl AutomationRunRequested");
  tx.abort();
  EXPECT_EQ(fsmctl({"projections", "verify", "automations"}, db_.url()).code, 0);

  auto unknown = fsmctl({"automations", "run-now", new_uuid()}, db_.url());
  EXPECT_EQ(unknown.code, 1) << unknown.out << unknown.err;
  EXPECT_NE(unknown.err.find("no automation"), std::string::npos) << unknown.err;
  EXPECT_EQ(fsmctl({"automations", "run-now", job_id_}, db_.url()).code, 1)
      << "a job is no automation";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"automations", "run-now", "not-a-uuid"},
                                             {"automations", "run-now"},
                                             {"automations", "list", "--account", "x"},
                                             {"automations"}}) {
    EXPECT_EQ(fsmctl(args, db_.url()).code, 2) << args.back();
  }
}

}  // namespace
}  // namespace fsm

// Verify and rebuild: tampered read tables are named and repaired, and a
// rebuild under concurrent commands loses none of them.
#include "projections/replay.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "commands/accounts.h"
#include "commands/command_runner.h"
#include "common/uuid.h"
#include "support/test_env.h"

namespace fsm::projections {
namespace {

using nlohmann::json;

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    pool_ = std::make_unique<events::PgPool>(db_.url(), 4);
    pool_->add_preparer(commands::prepare);
    commands::PasswordHasher hasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, 1);
    auto acct = commands::create_account(*pool_, hasher, {"A", "o@a.test", "O", "long password"}, "t");
    ASSERT_TRUE(acct.ok());
    actor_ = {acct->account_id, acct->owner_id, "owner", "replay-test"};
  }

  // A client through the command runner (the one-statement path).
  std::string client(events::PgPool& pool, const std::string& name) {
    commands::Command c;
    c.stream_id = new_uuid();
    c.stream_type = "client";
    c.creates = true;
    c.creation = domain::DomainEvent{"ClientCreated",
                                     {{"account_id", actor_.account_id}, {"name", name}}};
    auto r = commands::run(pool, actor_, c);
    return r.ok() ? c.stream_id : "";
  }

  // Renames a client: a command on an existing stream (the live statements).
  static commands::Command rename(const std::string& id, const std::string& from,
                                  const std::string& to) {
    commands::Command c;
    c.stream_id = id;
    c.stream_type = "client";
    c.decide = [from, to](const domain::EntityState&, pqxx::work&) {
      return Result<std::vector<domain::DomainEvent>>(std::vector<domain::DomainEvent>{
          {"ClientUpdated", {{"changes", {{"name", to}}}, {"previous", {{"name", from}}}}}});
    };
    return c;
  }

  void sql(const std::string& statement) {
    pqxx::connection c(db_.url());
    pqxx::work tx(c);
    tx.exec(statement);
    tx.commit();
  }

  std::set<std::string> differing_tables() {
    std::set<std::string> out;
    for (const auto& d : verify(db_.url()).differences) out.insert(d.table + ":" + d.id);
    return out;
  }

  testing::TestDatabase db_;
  std::unique_ptr<events::PgPool> pool_;
  commands::Actor actor_;
};

TEST_F(ReplayTest, TamperingIsNamedAndRebuildUndoesIt) {
  const std::string a = client(*pool_, "Ada"), b = client(*pool_, "Bob");
  ASSERT_FALSE(a.empty() || b.empty());
  EXPECT_TRUE(differing_tables().empty()) << "a fresh installation verifies clean";

  sql("UPDATE clients SET name = 'Mallory' WHERE id = '" + a + "'");
  sql("DELETE FROM clients WHERE id = '" + b + "'");
  const std::string stray = new_uuid();
  sql("INSERT INTO properties (id, account_id, client_id, address, version, created_at,"
      " updated_at) VALUES ('" + stray + "', '" + actor_.account_id + "', '" + a +
      "', 'nowhere', 1, now(), now())");
  sql("DELETE FROM audit_log WHERE entity_id = '" + a + "'");
  const auto found = differing_tables();
  EXPECT_TRUE(found.count("clients:" + a)) << "an edited row";
  EXPECT_TRUE(found.count("clients:" + b)) << "a deleted row";
  EXPECT_TRUE(found.count("properties:" + stray)) << "a stray row";
  EXPECT_EQ(found.size(), 4u) << "and the missing audit row, nothing else";

  const auto report = rebuild(db_.url());
  EXPECT_GT(report.events, 0);
  EXPECT_TRUE(differing_tables().empty());
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT name FROM clients WHERE id = '" + a + "'")[0].as<std::string>(), "Ada");
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM properties")[0].as<int>(), 0);
  // The live tables keep their index names (migrations may refer to them).
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_account_email_key'")[0]
                .as<int>(),
            1);
}

TEST_F(ReplayTest, ARebuildUnderConcurrentCommandsLosesNothing) {
  for (int i = 0; i < 50; ++i) client(*pool_, "before " + std::to_string(i));
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> created;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      events::PgPool pool(db_.url(), 1);
      pool.add_preparer(commands::prepare);
      for (int i = 0; !stop; ++i) {
        auto id = client(pool, "writer " + std::to_string(w) + "/" + std::to_string(i));
        if (!id.empty()) {
          std::lock_guard lock(mu);
          created.push_back(id);
        }
        // Busy, not flat out: four unthrottled writers on two cores would
        // starve the rebuild itself (a Debug build), which is not the point.
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto report = rebuild(db_.url());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_GT(created.size(), 10u);
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  json ids = created;
  const auto missing = tx.exec_params(
      "SELECT x FROM jsonb_array_elements_text($1::jsonb) x"
      " WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = x::uuid)",
      ids.dump());
  for (const auto& m : missing) ADD_FAILURE() << m[0].c_str() << " was acknowledged but is missing";
  EXPECT_EQ(missing.size(), 0u);
  // And its audit row (the audit log is replayed on a connection of its own).
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM jsonb_array_elements_text($1::jsonb) x"
                            " WHERE NOT EXISTS (SELECT 1 FROM audit_log a"
                            " WHERE a.entity_id = x::uuid AND a.action = 'insert')",
                            ids.dump())[0]
                .as<int>(),
            0);
  EXPECT_GT(report.events, 50);
  EXPECT_TRUE(differing_tables().empty());
}

// A command that commits after the rebuild's bulk snapshot (held open across
// it) is applied by the catch-up, on a row the bulk phase wrote.
TEST_F(ReplayTest, ACommandHeldOpenAcrossTheBulkSnapshotIsCaughtUp) {
  const std::string a = client(*pool_, "Ada");
  ASSERT_FALSE(a.empty());
  std::promise<void> appended, bulk_done;
  auto bulk_done_f = bulk_done.get_future().share();
  std::thread held([&] {
    events::PgPool pool(db_.url(), 1);
    pool.add_preparer(commands::prepare);
    commands::Command c = rename(a, "Ada", "Held");
    c.after = [&](pqxx::work&, const std::vector<events::RecordedEvent>&) {
      appended.set_value();
      bulk_done_f.wait();  // commits only once the bulk phase has read the log
    };
    EXPECT_TRUE(commands::run(pool, actor_, c).ok());
  });
  appended.get_future().wait();
  RebuildOptions options;
  bool signalled = false;
  options.progress = [&](long long done, long long total, double) {
    if (done == total && !signalled) {
      signalled = true;
      bulk_done.set_value();
    }
  };
  rebuild(db_.url(), options);
  held.join();
  ASSERT_TRUE(signalled);
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT name FROM clients WHERE id = '" + a + "'")[0].as<std::string>(), "Held");
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM audit_log WHERE entity_id = '" + a + "'")[0].as<int>(), 2);
  EXPECT_TRUE(differing_tables().empty());
}

// Named projections: verify checks only them, rebuild replaces only them.
TEST_F(ReplayTest, NamedProjectionsAreVerifiedAndRebuiltAlone) {
  const std::string a = client(*pool_, "Ada"), b = client(*pool_, "Bob");
  sql("UPDATE clients SET name = 'Mallory' WHERE id = '" + a + "'");
  sql("DELETE FROM audit_log WHERE entity_id = '" + b + "'");
  EXPECT_EQ(verify(db_.url(), {"clients"}).differences.size(), 1u);
  EXPECT_EQ(verify(db_.url(), {"jobs", "users"}).differences.size(), 0u);
  EXPECT_THROW(verify(db_.url(), {"clientz"}), std::invalid_argument);
  RebuildOptions only_clients;
  only_clients.names = {"clients"};
  rebuild(db_.url(), only_clients);
  const auto left = differing_tables();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(left.begin()->starts_with("audit_log:"))
      << "the audit row is still missing: rebuilding clients left audit_log alone";
  EXPECT_EQ(verify(db_.url(), {"clients"}).differences.size(), 0u);
}

// --until: the tables as of a past position, built aside; live untouched.
TEST_F(ReplayTest, RebuildUntilBuildsThePastAsideAndSwapsNothing) {
  const std::string a = client(*pool_, "Ada");
  pqxx::connection c(db_.url());
  const long long before = pqxx::nontransaction(c)
                               .exec1("SELECT max(global_position) FROM events")[0]
                               .as<long long>();
  ASSERT_TRUE(commands::run(*pool_, actor_, rename(a, "Ada", "Ada Lovelace")).ok());
  RebuildOptions options;
  options.until.position = before;
  const auto report = rebuild(db_.url(), options);
  EXPECT_EQ(report.schema, "fsm_until");
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec1("SELECT name FROM fsm_until.clients WHERE id = '" + a + "'")[0].as<std::string>(),
            "Ada");
  EXPECT_EQ(tx.exec1("SELECT name FROM clients WHERE id = '" + a + "'")[0].as<std::string>(),
            "Ada Lovelace")
      << "live tables are not swapped";
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM fsm_until.audit_log WHERE event_position > " +
                     std::to_string(before))[0]
                .as<int>(),
            0);
}

// kill -9 in the middle of a rebuild: the live tables are exactly as they
// were, and the next rebuild succeeds.
TEST_F(ReplayTest, ARebuildKilledMidwayLeavesTheLiveTablesAlone) {
  // Enough generated job creations that the rebuild is still replaying when killed.
  sql("WITH s AS (INSERT INTO streams (stream_id, stream_type, version)"
      " SELECT gen_random_uuid(), 'job', 1 FROM generate_series(1, 30000) RETURNING stream_id)"
      " INSERT INTO events (event_id, stream_id, stream_type, stream_version, event_type, data,"
      " metadata, account_id) SELECT gen_random_uuid(), s.stream_id, 'job', 1, 'JobCreated',"
      " jsonb_build_object('account_id', '" + actor_.account_id + "', 'client_id',"
      " gen_random_uuid(), 'title', 't', 'priority', 'normal', 'status', 'draft'),"
      " jsonb_build_object('account_id', '" + actor_.account_id + "'), '" + actor_.account_id +
      "'::uuid FROM s");
  rebuild(db_.url());  // the live tables now hold every job
  auto fingerprint = [this] {
    pqxx::connection c(db_.url());
    return pqxx::nontransaction(c)
        .exec1("SELECT count(*)::text || ':' || md5(string_agg(to_jsonb(j)::text, ',' ORDER BY id))"
               " FROM jobs j")[0]
        .as<std::string>();
  };
  const std::string before = fingerprint();

  const std::string ctl = testing::required_env("FSM_CTL_BIN");
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl(ctl.c_str(), ctl.c_str(), "--database-url", db_.url().c_str(), "projections",
            "rebuild", "--batch", "100", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  // Kill it once it is replaying into fsm_rebuild (its first batch committed).
  bool replaying = false;
  for (int i = 0; i < 300 && !replaying; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pqxx::connection c(db_.url());
    pqxx::nontransaction tx(c);
    replaying = tx.exec1("SELECT to_regclass('fsm_rebuild.jobs') IS NOT NULL")[0].as<bool>() &&
                tx.exec1("SELECT count(*) FROM fsm_rebuild.jobs")[0].as<long>() > 0;
  }
  // Meanwhile a second rebuild is refused rather than dropping its tables.
  EXPECT_THROW(rebuild(db_.url()), std::runtime_error);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(replaying) << "the rebuild finished before it could be killed";
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(fingerprint(), before) << "the live table is untouched";
  rebuild(db_.url());
  EXPECT_EQ(fingerprint(), before);
  EXPECT_TRUE(differing_tables().empty());
}

}  // namespace
}  // namespace fsm::projections

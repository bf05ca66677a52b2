// Commands against real PostgreSQL: decide on the folded state, append and
// project in one transaction, If-Match and re-decide under concurrency.
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "commands/accounts.h"
#include "commands/command_runner.h"
#include "common/uuid.h"
#include "domain/job.h"
#include "events/pg_event_store.h"
#include "projections/audit_projector.h"
#include "projections/entity_projector.h"
#include "projections/entity_reads.h"
#include "support/test_env.h"

namespace fsm::commands {
namespace {

using nlohmann::json;

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    pool_ = make_pool(4);
    // Test cost: the cheapest Argon2id libsodium allows.
    hasher_ = std::make_unique<PasswordHasher>(crypto_pwhash_OPSLIMIT_MIN,
                                               crypto_pwhash_MEMLIMIT_MIN, 2);
  }

  std::unique_ptr<events::PgPool> make_pool(std::size_t n) {
    auto p = std::make_unique<events::PgPool>(db_.url(), n);
    p->add_preparer(prepare);
    return p;
  }

  Command create_job(const std::string& id) {
    Command c;
    c.stream_id = id;
    c.stream_type = "job";
    c.creates = true;
    c.decide = [this](const domain::EntityState&, pqxx::work&) -> Result<std::vector<domain::DomainEvent>> {
      return std::vector<domain::DomainEvent>{
          {"JobCreated",
           {{"account_id", actor_.account_id}, {"client_id", new_uuid()}, {"title", "t"},
            {"priority", "normal"}, {"status", "draft"}}}};
    };
    return c;
  }

  Command patch_job(const std::string& id, json patch, std::optional<int> if_match = {}) {
    Command c;
    c.stream_id = id;
    c.stream_type = "job";
    c.if_match = if_match;
    c.decide = [patch](const domain::EntityState& s, pqxx::work&) {
      return domain::job::patch(s, patch);
    };
    return c;
  }

  // Runs fn(i, pool) on n threads, each with its own connection, released at once.
  void concurrently(int n, const std::function<void(int, events::PgPool&)>& fn) {
    std::barrier start(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        auto pool = make_pool(1);
        pool->acquire();
        start.arrive_and_wait();
        fn(i, *pool);
      });
    }
    for (auto& t : threads) t.join();
  }

  json job_row(const std::string& id) {
    pqxx::connection c(db_.url());
    auto r = pqxx::work(c).exec_params("SELECT to_jsonb(j) FROM jobs j WHERE id = $1", id);
    return r.empty() ? json(nullptr) : json::parse(r[0][0].c_str());
  }

  testing::TestDatabase db_;
  std::unique_ptr<events::PgPool> pool_;
  std::unique_ptr<PasswordHasher> hasher_;
  Actor actor_{new_uuid(), new_uuid(), "owner", "trace-cmd"};
};

TEST_F(CommandsTest, ACommandIsProjectedBeforeItsResultReturns) {
  const auto id = new_uuid();
  auto created = run(*pool_, actor_, create_job(id));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->version, 1);
  EXPECT_EQ(job_row(id)["version"], 1);
  ASSERT_EQ(created->events.size(), 1u);
  EXPECT_EQ(created->events[0].metadata["actor_id"], actor_.user_id);
  EXPECT_EQ(created->events[0].metadata["trace_id"], "trace-cmd");
  EXPECT_FALSE(created->events[0].metadata["causation_id"].is_null());

  EXPECT_EQ(job_row(id)["last_event_position"], created->events[0].position);

  auto patched = run(*pool_, actor_, patch_job(id, {{"title", "new"}}));
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(patched->version, 2);
  EXPECT_EQ(job_row(id)["title"], "new");
  // The row records the position of the last event applied to it.
  EXPECT_EQ(job_row(id)["last_event_position"], patched->events[0].position);

  auto noop = run(*pool_, actor_, patch_job(id, {{"title", "new"}}));
  ASSERT_TRUE(noop.ok());
  EXPECT_EQ(noop->version, 2);
  EXPECT_TRUE(noop->events.empty());
}

// A creation decided in advance is written by one statement; with an `after`
// hook it takes the general path. Both must leave the same row, and so must a
// replay of the stored event through the projector.
TEST_F(CommandsTest, TheOneStatementCreationWritesWhatTheProjectorReplays) {
  auto creation = [this](const std::string& id, bool general) {
    Command c;
    c.stream_id = id;
    c.stream_type = "client";
    c.creates = true;
    c.creation = domain::DomainEvent{
        "ClientCreated",
        {{"account_id", actor_.account_id}, {"name", "Ada"}, {"email", nullptr},
         {"phone", "555"}, {"notes", nullptr}}};
    if (general) c.after = [](pqxx::work&, const auto&) {};
    return c;
  };
  auto row_of = [this](const std::string& id) {
    pqxx::connection c(db_.url());
    pqxx::nontransaction tx(c);
    return projections::read_entity(tx, projections::entity_table("client"), actor_.account_id, id)
        .value_or("");
  };
  const auto fast_id = new_uuid(), general_id = new_uuid();
  auto fast = run(*pool_, actor_, creation(fast_id, false));
  auto general = run(*pool_, actor_, creation(general_id, true));
  ASSERT_TRUE(fast.ok() && general.ok());
  EXPECT_EQ(fast->row, row_of(fast_id)) << "the answer is the stored row";
  EXPECT_EQ(json::parse(row_of(fast_id)).count("last_event_position"), 0u) << "not in the API";
  auto shape = [](std::string row, const std::string& id) {
    json j = json::parse(row);
    EXPECT_EQ(j["id"], id);
    j.erase("id");
    j.erase("created_at");
    j.erase("updated_at");
    return j;
  };
  EXPECT_EQ(shape(fast->row, fast_id), shape(general->row, general_id));
  ASSERT_EQ(fast->events.size(), 1u);
  EXPECT_EQ(fast->events[0].metadata["trace_id"], "trace-cmd");

  // Replay: drop what the projector wrote for the stream and apply its stored
  // events again. Compared at full precision (to_jsonb), as verify does.
  auto replayed = [&](const std::string& table, const std::string& key, const auto& apply) {
    auto read = [&] {
      pqxx::connection c(db_.url());
      return std::string(pqxx::nontransaction(c)
                             .exec_params1("SELECT to_jsonb(x)::text FROM " + table + " x WHERE " +
                                               key + " = $1",
                                           fast_id)[0]
                             .c_str());
    };
    const std::string before = read();
    pqxx::connection c(db_.url());
    prepare(c);
    pqxx::work tx(c);
    tx.exec_params("DELETE FROM " + table + " WHERE " + key + " = $1", fast_id);
    for (const auto& e : events::PgEventStore::read_stream_in(tx, fast_id, std::nullopt)) {
      apply(tx, e);
    }
    tx.commit();
    return std::pair{before, read()};
  };
  const auto row = replayed("clients", "id", [](pqxx::work& tx, const events::RecordedEvent& e) {
    projections::apply_entity_event(tx, e);
  });
  EXPECT_EQ(row.second, row.first);
  // The audit row written by the one statement equals the projector's.
  const auto audit =
      replayed("audit_log", "entity_id", [](pqxx::work& tx, const events::RecordedEvent& e) {
        projections::apply_audit(tx, e);
      });
  EXPECT_EQ(audit.second, audit.first);
}

TEST_F(CommandsTest, ReferencesAreCheckedOnBothPaths) {
  const auto client = new_uuid();
  Command make_client;
  make_client.stream_id = client;
  make_client.stream_type = "client";
  make_client.creates = true;
  make_client.creation = domain::DomainEvent{
      "ClientCreated", {{"account_id", actor_.account_id}, {"name", "C"}}};
  ASSERT_TRUE(run(*pool_, actor_, make_client).ok());
  for (bool general : {false, true}) {
    for (const std::string& ref : {client, new_uuid()}) {
      Command c;
      c.stream_id = new_uuid();
      c.stream_type = "property";
      c.creates = true;
      c.creation = domain::DomainEvent{
          "PropertyCreated",
          {{"account_id", actor_.account_id}, {"client_id", ref}, {"address", "1 Main St"}}};
      c.references = {{"client", ref, Error::of(ErrorCode::kNotFound, "no such client")}};
      if (general) c.after = [](pqxx::work&, const auto&) {};
      auto r = run(*pool_, actor_, c);
      if (ref == client) {
        EXPECT_TRUE(r.ok()) << general;
      } else {
        ASSERT_FALSE(r.ok()) << general;
        EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
      }
    }
  }
  pqxx::connection c(db_.url());
  EXPECT_EQ(pqxx::work(c).exec1("SELECT count(*) FROM events WHERE event_type = 'PropertyCreated'")[0]
                .as<int>(),
            2)
      << "refused creations store nothing";
}

TEST_F(CommandsTest, AnotherAccountsEntityIsNotFound) {
  const auto id = new_uuid();
  ASSERT_TRUE(run(*pool_, actor_, create_job(id)).ok());
  Actor stranger{new_uuid(), new_uuid(), "owner", "t"};
  auto r = run(*pool_, stranger, patch_job(id, {{"title", "mine now"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(job_row(id)["title"], "t");
  auto missing = run(*pool_, actor_, patch_job(new_uuid(), {{"title", "x"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(CommandsTest, IfMatchWithAnotherVersionIsAConflictWithBothVersions) {
  const auto id = new_uuid();
  ASSERT_TRUE(run(*pool_, actor_, create_job(id)).ok());
  auto r = run(*pool_, actor_, patch_job(id, {{"title", "x"}}, 7));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(r.error().expected_version, 7);
  EXPECT_EQ(r.error().actual_version, 1);
}

// 10 callers send If-Match: 1 at once: exactly one wins, nine get 409.
TEST_F(CommandsTest, TenConcurrentConditionalPatchesExactlyOneWins) {
  const auto id = new_uuid();
  ASSERT_TRUE(run(*pool_, actor_, create_job(id)).ok());
  constexpr int kCallers = 10;
  std::atomic<int> ok{0}, conflicts{0};
  concurrently(kCallers, [&](int i, events::PgPool& pool) {
    auto r = run(pool, actor_, patch_job(id, {{"title", "caller " + std::to_string(i)}}, 1));
    if (r.ok()) {
      ++ok;
    } else if (r.error().code == ErrorCode::kConflict && r.error().expected_version == 1) {
      ++conflicts;
    }
  });
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflicts.load(), kCallers - 1);
  EXPECT_EQ(job_row(id)["version"], 2);
}

// Without If-Match, every concurrent change is applied (re-decided on the new
// state when it loses a race): the version counts every success.
TEST_F(CommandsTest, ConcurrentUnconditionalPatchesAreAllApplied) {
  const auto id = new_uuid();
  ASSERT_TRUE(run(*pool_, actor_, create_job(id)).ok());
  constexpr int kCallers = 10;
  std::atomic<int> ok{0};
  concurrently(kCallers, [&](int i, events::PgPool& pool) {
    // Distinct values, so no patch is a no-op on any state.
    if (run(pool, actor_, patch_job(id, {{"title", "caller " + std::to_string(i)}})).ok()) ++ok;
  });
  EXPECT_EQ(job_row(id)["version"], 1 + ok.load()) << "a success was not counted";
  EXPECT_EQ(ok.load(), kCallers) << "callers on one entity queue; none should give up";
}

TEST_F(CommandsTest, CreatingAnAccountStoresEventsProjectionsAndAHashNotThePassword) {
  auto created = create_account(*pool_, *hasher_,
                                {"Acme", "Owner@Acme.test", "Olga", "correct horse battery"}, "t1");
  ASSERT_TRUE(created.ok());
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  auto user = tx.exec_params("SELECT email, role, account_id::text FROM users WHERE id = $1",
                             created->owner_id);
  ASSERT_EQ(user.size(), 1u);
  EXPECT_STREQ(user[0][0].c_str(), "owner@acme.test");
  EXPECT_STREQ(user[0][1].c_str(), "owner");
  EXPECT_EQ(user[0][2].c_str(), created->account_id);
  EXPECT_EQ(tx.exec_params("SELECT 1 FROM accounts WHERE id = $1", created->account_id).size(), 1u);
  auto hash = tx.exec_params("SELECT password_hash FROM credentials WHERE user_id = $1",
                             created->owner_id);
  ASSERT_EQ(hash.size(), 1u);
  EXPECT_TRUE(hasher_->verify(hash[0][0].c_str(), "correct horse battery"));
  EXPECT_FALSE(hasher_->verify(hash[0][0].c_str(), "wrong horse battery"));
  auto leaks = tx.exec(
      "SELECT count(*) FROM events WHERE data::text LIKE '%horse%' OR data::text LIKE '%argon%'");
  EXPECT_EQ(leaks[0][0].as<int>(), 0);
}

TEST_F(CommandsTest, AnInvalidAccountIsRefusedAndWritesNothing) {
  auto r = create_account(*pool_, *hasher_, {"", "not-an-email", "O", "short"}, "t");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  EXPECT_EQ(r.error().issues.size(), 3u);
  pqxx::connection c(db_.url());
  EXPECT_EQ(pqxx::work(c).exec("SELECT count(*) FROM events")[0][0].as<int>(), 0);
}

TEST_F(CommandsTest, AUniqueValueTakenInTheReadTableIsAConflictAndStoresNothing) {
  auto created = create_account(*pool_, *hasher_, {"Acme", "o@acme.test", "O", "long enough"}, "t");
  ASSERT_TRUE(created.ok());
  Actor owner{created->account_id, created->owner_id, "owner", "t"};
  Command c;
  c.stream_id = new_uuid();
  c.stream_type = "user";
  c.creates = true;
  c.decide = [&](const domain::EntityState&, pqxx::work&) -> Result<std::vector<domain::DomainEvent>> {
    return std::vector<domain::DomainEvent>{
        {"UserCreated", {{"account_id", created->account_id}, {"email", "o@acme.test"},
                         {"full_name", "Dup"}, {"role", "tech"}, {"phone", nullptr}}}};
  };
  auto r = run(*pool_, owner, c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  pqxx::connection conn(db_.url());
  EXPECT_EQ(pqxx::work(conn).exec_params("SELECT count(*) FROM events WHERE stream_id = $1",
                                         c.stream_id)[0][0].as<int>(),
            0);
}

}  // namespace
}  // namespace fsm::commands

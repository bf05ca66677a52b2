// Idempotency-Key on POST: replay, reuse with another body, in-flight
// duplicates, and exactly-once when a retry takes over an abandoned request.
#include <barrier>
#include <chrono>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "api/api_fixture.h"

namespace fsm {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Headers;

class IdempotencyTest : public testing::ApiTest {
 protected:
  std::map<std::string, std::string> extra_env() override {
    return {{"FSM_IDEMPOTENCY_LEASE_SECONDS", "1"}};
  }

  testing::HttpResponse post_with(const std::string& path, const std::string& tok,
                                  const json& body, const std::string& key) {
    return call("POST", path, tok, body.dump(), Headers{{"Idempotency-Key", key}});
  }

  long count(const std::string& sql) {
    pqxx::connection conn(db_.url());
    pqxx::read_transaction tx(conn);
    return tx.exec1(sql)[0].as<long>();
  }

  std::string new_job() {
    const std::string client = post("/api/v1/clients", admin_, {{"name", "C"}})["id"];
    return post("/api/v1/jobs", admin_, {{"client_id", client}, {"title", "J"}})["id"];
  }
};

TEST_F(IdempotencyTest, TheSameRequestIsAnsweredTwiceAndAppliedOnce) {
  const json body = {{"name", "Once"}};
  auto first = post_with("/api/v1/clients", admin_, body, "create-once");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.headers.count("idempotent-replayed"), 0u);
  auto again = post_with("/api/v1/clients", admin_, body, "create-once");
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.json(), first.json());
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE event_type = 'ClientCreated'"), 1);

  // Keys belong to their user: another user's key of the same name is theirs.
  EXPECT_EQ(post_with("/api/v1/clients", owner_, body, "create-once").status, 201);
  EXPECT_EQ(count("SELECT count(*) FROM clients"), 2);
}

TEST_F(IdempotencyTest, AnotherBodyUnderAUsedKeyIsRefused) {
  ASSERT_EQ(post_with("/api/v1/clients", admin_, {{"name", "A"}}, "k1").status, 201);
  auto reused = post_with("/api/v1/clients", admin_, {{"name", "B"}}, "k1");
  EXPECT_EQ(reused.status, 422);
  EXPECT_EQ(code_of(reused), "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(count("SELECT count(*) FROM clients"), 1);
}

TEST_F(IdempotencyTest, ErrorsAreReplayedToo) {
  auto bad = post_with("/api/v1/clients", admin_, {{"nom", "x"}}, "bad-body");
  ASSERT_EQ(bad.status, 400);
  auto again = post_with("/api/v1/clients", admin_, {{"nom", "x"}}, "bad-body");
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  EXPECT_EQ(post_with("/api/v1/clients", admin_, {{"name", "x"}}, std::string(256, 'k')).status,
            400);
  EXPECT_EQ(post_with("/api/v1/clients", admin_, {{"name", "x"}}, "has space").status, 400);
}

TEST_F(IdempotencyTest, ConcurrentDuplicatesApplyOnce) {
  constexpr int kN = 8;
  std::barrier start(kN);
  std::vector<int> statuses(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      statuses[i] = post_with("/api/v1/clients", admin_, {{"name", "Dup"}}, "double-click").status;
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (int s : statuses) {
    EXPECT_TRUE(s == 201 || s == 409) << s;
    created += s == 201;
  }
  EXPECT_GE(created, 1);
  EXPECT_EQ(count("SELECT count(*) FROM clients"), 1) << "one client, however many answers";
}

// While the first request waits (its job's stream row is held by another
// transaction), a duplicate is 409; afterwards it is replayed.
TEST_F(IdempotencyTest, ADuplicateInFlightIsAConflict) {
  const std::string job = new_job();
  const std::string path = "/api/v1/jobs/" + job + "/transition";
  pqxx::connection holder(db_.url());
  pqxx::work hold(holder);
  hold.exec_params("SELECT 1 FROM streams WHERE stream_id = $1 FOR UPDATE", job);
  auto first = std::async(std::launch::async, [&] {
    return post_with(path, admin_, {{"status", "scheduled"}}, "move-1").status;
  });
  std::this_thread::sleep_for(300ms);
  auto dup = post_with(path, admin_, {{"status", "scheduled"}}, "move-1");
  EXPECT_EQ(dup.status, 409) << dup.body;
  hold.commit();
  EXPECT_EQ(first.get(), 200);
  auto replay = post_with(path, admin_, {{"status", "scheduled"}}, "move-1");
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.headers["idempotent-replayed"], "true");
  EXPECT_EQ(replay.json()["version"], 2);
}

// The first request stalls past the lease; a retry takes the key over. When
// both get to run, only the holder of the key may commit: one transition.
TEST_F(IdempotencyTest, ARetryThatTakesOverLeavesTheStalledRequestNothingToCommit) {
  const std::string job = new_job();
  const std::string path = "/api/v1/jobs/" + job + "/transition";
  pqxx::connection holder(db_.url());
  pqxx::work hold(holder);
  hold.exec_params("SELECT 1 FROM streams WHERE stream_id = $1 FOR UPDATE", job);
  auto stalled = std::async(std::launch::async, [&] {
    return post_with(path, admin_, {{"status", "quoted"}}, "slow").status;
  });
  std::this_thread::sleep_for(1500ms);  // past the 1 s lease
  auto retry = std::async(std::launch::async, [&] {
    return post_with(path, admin_, {{"status", "quoted"}}, "slow").status;
  });
  std::this_thread::sleep_for(300ms);
  hold.commit();
  const int a = stalled.get(), b = retry.get();
  EXPECT_EQ(a, 409) << "the stalled request lost its key";
  EXPECT_EQ(b, 200);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE event_type = 'JobStatusChanged'"), 1);
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + job, admin_).json()["version"], 2);
}

// A request whose command fails in the database (a 500, or a 503 when the
// connection dies) gives its key back: the retry runs, it is not a 409 for
// the lease's length. The failures are real: a trigger on the event log that
// raises, or that terminates its own backend.
class IdempotencyFailureTest : public IdempotencyTest,
                               public ::testing::WithParamInterface<std::pair<const char*, int>> {
 protected:
  std::map<std::string, std::string> extra_env() override {
    return {{"FSM_IDEMPOTENCY_LEASE_SECONDS", "600"}};  // no take-over within the test
  }

  void exec(const std::string& sql) {
    pqxx::connection conn(db_.url());
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
  }
};

TEST_P(IdempotencyFailureTest, AFailedCommandReleasesItsKeyAndTheRetryRuns) {
  const auto [failure, status] = GetParam();
  exec(std::string("CREATE FUNCTION test_fail_append() RETURNS trigger LANGUAGE plpgsql AS $$"
                   " BEGIN ") +
       failure +
       "; RETURN NEW; END $$;"
       " CREATE TRIGGER test_fail_append BEFORE INSERT ON events"
       " FOR EACH ROW EXECUTE FUNCTION test_fail_append()");
  const json body = {{"name", "Retried"}};
  auto failed = post_with("/api/v1/clients", admin_, body, "fails-once");
  EXPECT_EQ(failed.status, status) << failed.body;
  EXPECT_EQ(count("SELECT count(*) FROM clients"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM idempotency_keys"), 0) << "the key was released";

  exec("DROP TRIGGER test_fail_append ON events");
  auto retry = post_with("/api/v1/clients", admin_, body, "fails-once");
  EXPECT_EQ(retry.status, 201) << retry.body;
  EXPECT_EQ(retry.headers.count("idempotent-replayed"), 0u);
  auto replay = post_with("/api/v1/clients", admin_, body, "fails-once");
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.headers["idempotent-replayed"], "true");
  EXPECT_EQ(count("SELECT count(*) FROM clients"), 1);
}

INSTANTIATE_TEST_SUITE_P(
    Failures, IdempotencyFailureTest,
    ::testing::Values(std::make_pair("RAISE EXCEPTION 'injected failure'", 500),
                      std::make_pair("PERFORM pg_terminate_backend(pg_backend_pid())", 503)),
    [](const auto& info) { return info.param.second == 500 ? "SqlError" : "ConnectionLost"; });

}  // namespace
}  // namespace fsm

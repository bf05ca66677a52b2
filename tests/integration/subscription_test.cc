// Subscriptions against a real PostgreSQL: every committed event reaches the
// handler, in log order, past a transaction held open, again after a handler
// failed, from the stored checkpoint after a restart; subscribers are
// independent, and objects of one subscriber never handle an event twice.
#include "events/subscription.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "common/uuid.h"
#include "events/pg_event_store.h"
#include "support/test_env.h"

namespace fsm::events {
namespace {

using Clock = std::chrono::steady_clock;

class SubscriptionTest : public ::testing::Test {
 public:
  void SetUp() override {
    pqxx::connection c(db_.url());
    pqxx::work tx(c);
    // What handlers write in their transaction: a second row for one event
    // and subscriber is refused, so exactly-once is checked by the database.
    tx.exec(
        "CREATE TABLE handled (subscriber text, event_id uuid, position bigint,"
        " PRIMARY KEY (subscriber, event_id))");
    tx.commit();
  }

  std::unique_ptr<PgPool> make_pool() {
    auto pool = std::make_unique<PgPool>(db_.url(), 1);
    pool->add_preparer(PgEventStore::prepare);
    return pool;
  }

  static AppendRequest request(const std::string& stream) {
    AppendRequest r;
    r.stream_id = stream;
    r.stream_type = "job";
    r.metadata.account_id = "0189d6f2-8a3b-7c4d-9e5f-0a1b2c3d4e5f";
    r.events.push_back(NewEvent{new_uuid(), "JobCreated", 1, {{"title", "t"}}});
    return r;
  }

  // Appends one event in its own committed transaction; its event_id.
  std::string append() {
    const auto req = request(new_uuid());
    const auto out = store_.append(req);
    EXPECT_TRUE(std::holds_alternative<AppendResult>(out));
    return req.events[0].event_id;
  }

  // Handles by recording the event in `handled` (in the transaction) and in
  // `calls` (outside it: what a mail sent would be).
  Subscription::Handler recorder(const std::string& subscriber) {
    return [this, subscriber](pqxx::transaction_base& tx, const RecordedEvent& e) {
      tx.exec_params("INSERT INTO handled VALUES ($1, $2::uuid, $3)", subscriber, e.event_id,
                     e.position);
      std::lock_guard lock(mu_);
      calls_.push_back(e);
    };
  }

  std::vector<std::string> handled(const std::string& subscriber) {
    pqxx::connection c(db_.url());
    std::vector<std::string> out;
    for (const auto& r : pqxx::work(c).exec_params(
             "SELECT event_id::text FROM handled WHERE subscriber = $1 ORDER BY position",
             subscriber)) {
      out.emplace_back(r[0].c_str());
    }
    return out;
  }

  std::vector<std::string> call_ids() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& e : calls_) out.push_back(e.event_id);
    return out;
  }

  // The gap-safe read serves an event once every older writing transaction
  // of the whole cluster has ended, and other tests run in parallel: polls
  // until `n` events were handled, within a deadline.
  static std::size_t poll_until(Subscription& s, std::size_t n) {
    std::size_t got = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (got < n && Clock::now() < deadline) {
      const auto handled = s.poll();
      got += handled;
      if (handled == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return got;
  }

  testing::TestDatabase db_;
  std::unique_ptr<PgPool> pool_ = make_pool();
  PgEventStore store_{*pool_};
  std::mutex mu_;
  std::vector<RecordedEvent> calls_;
};

// T1 appends and stays open across polls while writers commit after it:
// nothing passes it. Once it commits, its event comes first, and with the
// writers still going every event arrives once, in (tx_id, position) order.
// (T1 holds back every gap-safe reader of the cluster, other tests' too: it
// stays open only as long as the first writers take.)
TEST_F(SubscriptionTest, ConcurrentWritersAndATransactionHeldOpenAcrossPolls) {
  Subscription sub(*pool_, "mailer", recorder("mailer"), 7);
  pqxx::connection c1(db_.url());
  PgEventStore::prepare(c1);
  auto t1 = std::make_unique<pqxx::work>(c1);
  const auto held = request(new_uuid());
  ASSERT_TRUE(std::holds_alternative<AppendResult>(PgEventStore::append_in(*t1, held)));

  constexpr int kWriters = 4, kWhileHeld = 3, kAfter = 12;
  std::set<std::string> written = {held.events[0].event_id};
  std::mutex written_mu;
  std::atomic<int> writing{0};
  auto start_writers = [&](int each) {
    std::vector<std::thread> writers;
    writing = kWriters;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w, each] {
        auto pool = make_pool();
        PgEventStore store(*pool);
        for (int i = 0; i < each; ++i) {
          const auto req = request(new_uuid());
          // Some stay open a while before committing.
          store.append(req, [&](pqxx::work& tx, const auto&) {
            if ((i + w) % 4 == 0) tx.exec("SELECT pg_sleep(0.002)");
          });
          std::lock_guard lock(written_mu);
          written.insert(req.events[0].event_id);
        }
        --writing;
      });
    }
    return writers;
  };
  // Polling while they write, and once more after: T1 holds everything back.
  auto writers = start_writers(kWhileHeld);
  std::size_t early = 0;
  while (writing > 0) early += sub.poll();
  for (auto& t : writers) t.join();
  early += sub.poll();
  EXPECT_EQ(early, 0u) << "an event committed after T1 began came through while T1 was open";
  EXPECT_EQ(sub.checkpoint(), Checkpoint{});

  t1->commit();
  t1.reset();
  writers = start_writers(kAfter);
  const std::size_t total = 1 + kWriters * (kWhileHeld + kAfter);
  EXPECT_EQ(poll_until(sub, total), total);
  for (auto& t : writers) t.join();
  EXPECT_EQ(sub.poll(), 0u) << "nothing more after everything";

  const auto ids = call_ids();
  ASSERT_EQ(ids.size(), total);
  EXPECT_EQ(ids.front(), held.events[0].event_id) << "the held event first";
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), written) << "skipped or repeated";
  EXPECT_EQ(handled("mailer").size(), total);
  std::lock_guard lock(mu_);
  for (std::size_t i = 1; i < calls_.size(); ++i) {
    EXPECT_LT(calls_[i - 1].checkpoint(), calls_[i].checkpoint()) << "out of order at " << i;
  }
  EXPECT_EQ(sub.checkpoint(), calls_.back().checkpoint());
}

// The handler's writes roll back with it, the checkpoint stays before the
// event, and the next poll delivers that event again, then the rest.
TEST_F(SubscriptionTest, AHandlerThatThrowsGetsItsEventAgain) {
  const std::vector<std::string> ids = {append(), append(), append()};
  bool failed_once = false;
  const auto record = recorder("s");
  Subscription sub(*pool_, "s", [&](pqxx::transaction_base& tx, const RecordedEvent& e) {
    record(tx, e);
    if (e.event_id == ids[1] && !failed_once) {
      failed_once = true;
      throw std::runtime_error("the mail server is down");
    }
  });
  // Wait until all three are past the horizon, so the first poll sees them.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (store_.read_all({}, 10).events.size() < 3 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_THROW(sub.poll(), std::runtime_error);
  EXPECT_EQ(handled("s"), std::vector<std::string>{ids[0]}) << "the failed write rolled back";
  const auto first = calls_.front();
  EXPECT_EQ(sub.checkpoint(), first.checkpoint()) << "the checkpoint stays before the failure";

  EXPECT_EQ(poll_until(sub, 2), 2u);
  EXPECT_EQ(call_ids(), (std::vector<std::string>{ids[0], ids[1], ids[1], ids[2]}));
  EXPECT_EQ(handled("s"), ids);
}

// A restart: a new object of the same name starts where the last one stopped.
TEST_F(SubscriptionTest, ANewObjectResumesFromTheStoredCheckpoint) {
  const std::string a = append(), b = append();
  {
    Subscription sub(*pool_, "sealer", recorder("sealer"));
    ASSERT_EQ(poll_until(sub, 2), 2u);
  }
  const std::string c = append();
  Subscription restarted(*pool_, "sealer", recorder("sealer"));
  EXPECT_EQ(poll_until(restarted, 1), 1u);
  EXPECT_EQ(call_ids(), (std::vector<std::string>{a, b, c})) << "a and b are not handled again";
  EXPECT_EQ(handled("sealer"), (std::vector<std::string>{a, b, c}));
}

// Each subscriber has its own checkpoint: one's progress or failure is
// nothing to the other.
TEST_F(SubscriptionTest, TwoSubscribersAreIndependent) {
  const std::vector<std::string> ids = {append(), append()};
  Subscription ahead(*pool_, "ahead", recorder("ahead"));
  ASSERT_EQ(poll_until(ahead, 2), 2u);
  Subscription failing(*pool_, "failing", [](pqxx::transaction_base&, const RecordedEvent&) {
    throw std::runtime_error("down");
  });
  EXPECT_THROW(failing.poll(), std::runtime_error);
  EXPECT_EQ(failing.checkpoint(), Checkpoint{});
  const Checkpoint ahead_at = ahead.checkpoint();
  EXPECT_NE(ahead_at, Checkpoint{});

  Subscription behind(*pool_, "behind", recorder("behind"));
  EXPECT_EQ(behind.checkpoint(), Checkpoint{});
  EXPECT_EQ(poll_until(behind, 2), 2u);
  EXPECT_EQ(handled("behind"), ids);
  EXPECT_EQ(handled("ahead"), ids);
  EXPECT_EQ(ahead.checkpoint(), ahead_at);
}

// Two workers run the same subscriber while events are written: each event
// is handled by exactly one of them (a second insert into `handled` would
// fail the poll), and the stored checkpoint only ever moves forward.
TEST_F(SubscriptionTest, ObjectsOfOneSubscriberHandleEachEventOnceAndNeverMoveBack) {
  constexpr int kEvents = 80;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    auto pool = make_pool();
    PgEventStore store(*pool);
    for (int i = 0; i < kEvents; ++i) store.append(request(new_uuid()));
    writing = false;
  });
  std::atomic<std::size_t> handled_total{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&] {
      auto pool = make_pool();
      Subscription sub(*pool, "worker", recorder("worker"), 3);
      const auto deadline = Clock::now() + std::chrono::seconds(60);
      while (handled_total < kEvents && Clock::now() < deadline) {
        try {
          handled_total += sub.poll();
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          ++errors;
          return;
        }
      }
    });
  }
  std::vector<Checkpoint> seen;
  {
    auto pool = make_pool();
    Subscription observer(*pool, "worker", recorder("unused"));
    const auto deadline = Clock::now() + std::chrono::seconds(70);
    while ((writing || handled_total < kEvents) && !errors && Clock::now() < deadline) {
      seen.push_back(observer.checkpoint());
    }
  }
  writer.join();
  for (auto& t : workers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(handled_total.load(), static_cast<std::size_t>(kEvents));
  EXPECT_EQ(call_ids().size(), static_cast<std::size_t>(kEvents)) << "the handler ran once each";
  EXPECT_EQ(handled("worker").size(), static_cast<std::size_t>(kEvents));
  for (std::size_t i = 1; i < seen.size(); ++i) {
    ASSERT_LE(seen[i - 1], seen[i]) << "the checkpoint moved backwards";
  }
}

}  // namespace
}  // namespace fsm::events

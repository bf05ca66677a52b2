// The event log's guarantees, proven against a real PostgreSQL.
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <barrier>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "common/uuid.h"
#include "events/pg_event_store.h"
#include "support/test_env.h"

namespace fsm::events {
namespace {

class EventStoreTest : public ::testing::Test {
 public:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }

  std::unique_ptr<PgPool> make_pool(std::size_t size = 1) {
    auto pool = std::make_unique<PgPool>(db_.url(), size);
    pool->add_preparer(PgEventStore::prepare);
    return pool;
  }

  static AppendRequest request(const std::string& stream, int expected, int count = 1,
                               const std::string& type = "JobCreated") {
    AppendRequest r;
    r.stream_id = stream;
    r.stream_type = "job";
    r.expected_version = expected;
    r.metadata.account_id = "0189d6f2-8a3b-7c4d-9e5f-0a1b2c3d4e5f";
    r.metadata.actor_id = "0189d6f2-8a3b-7c4d-9e5f-000000000001";
    r.metadata.trace_id = "trace-" + stream.substr(0, 8);
    for (int i = 0; i < count; ++i) {
      r.events.push_back(NewEvent{new_uuid(), type, 1, {{"n", i}}});
    }
    return r;
  }

  std::int64_t count_events() {
    pqxx::connection c(db_.url());
    return pqxx::work(c).exec("SELECT count(*) FROM events")[0][0].as<std::int64_t>();
  }

  testing::TestDatabase db_;
};

// read_all waits for every older writing transaction in the whole cluster
// (pg_snapshot_xmin is cluster-wide), and tests in other databases run in
// parallel: what must become visible is awaited with a deadline, never assumed.
ReadAllBatch read_all_until(PgEventStore& store, Checkpoint after, std::size_t at_least) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto batch = store.read_all(after, 1000);
    if (batch.events.size() >= at_least || std::chrono::steady_clock::now() > deadline) {
      return batch;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// By value: the outcome passed in is usually a temporary.
AppendResult ok(const AppendOutcome& o) {
  if (auto* c = std::get_if<ConcurrencyConflict>(&o)) {
    throw std::runtime_error("unexpected conflict: expected " + std::to_string(c->expected) +
                             " actual " + std::to_string(c->actual));
  }
  return std::get<AppendResult>(o);
}

TEST_F(EventStoreTest, AppendsANewStreamAndReadsItBackInOrder) {
  auto pool = make_pool();
  PgEventStore store(*pool);
  const auto stream = new_uuid();
  const auto r = ok(store.append(request(stream, 0, 3)));
  EXPECT_EQ(r.new_version, 3);
  EXPECT_FALSE(r.deduplicated);
  ASSERT_EQ(r.events.size(), 3u);

  auto events = store.read_stream(stream);
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].version, i + 1);
    EXPECT_EQ(events[i].data["n"], i);
    EXPECT_EQ(events[i].metadata["account_id"], "0189d6f2-8a3b-7c4d-9e5f-0a1b2c3d4e5f");
    EXPECT_EQ(events[i].metadata["trace_id"], "trace-" + stream.substr(0, 8));
    EXPECT_TRUE(events[i].metadata.contains("causation_id"));
    EXPECT_TRUE(events[i].metadata.contains("correlation_id"));
    if (i > 0) {
      EXPECT_GT(events[i].position, events[i - 1].position);
    }
  }
  EXPECT_EQ(store.read_stream(stream, 2).size(), 2u);
  EXPECT_TRUE(store.read_stream(new_uuid()).empty());
}

TEST_F(EventStoreTest, WrongExpectedVersionIsATypedConflictAndWritesNothing) {
  auto pool = make_pool();
  PgEventStore store(*pool);
  const auto stream = new_uuid();
  ok(store.append(request(stream, 0, 2)));

  for (int expected : {0, 1, 3, 7}) {
    auto outcome = store.append(request(stream, expected));
    ASSERT_TRUE(std::holds_alternative<ConcurrencyConflict>(outcome)) << expected;
    const auto& c = std::get<ConcurrencyConflict>(outcome);
    EXPECT_EQ(c.expected, expected);
    EXPECT_EQ(c.actual, 2);
    EXPECT_EQ(c.stream_id, stream);
  }
  EXPECT_EQ(count_events(), 2);
  // Appending to a stream that does not exist with a non-zero version.
  auto outcome = store.append(request(new_uuid(), 1));
  ASSERT_TRUE(std::holds_alternative<ConcurrencyConflict>(outcome));
  EXPECT_EQ(std::get<ConcurrencyConflict>(outcome).actual, 0);
  EXPECT_EQ(count_events(), 2);
}

// 16 writers decide on the same version at the same moment: one wins.
void race_sixteen(const std::string& stream, int expected,
                  std::function<std::unique_ptr<PgPool>()> make_pool) {
  constexpr int kThreads = 16;
  std::vector<std::unique_ptr<PgPool>> pools;
  for (int i = 0; i < kThreads; ++i) {
    pools.push_back(make_pool());
    pools.back()->acquire();  // connect before the race starts
  }
  std::barrier start(kThreads);
  std::atomic<int> wins{0}, conflicts{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      PgEventStore store(*pools[i]);
      auto req = EventStoreTest::request(stream, expected);
      start.arrive_and_wait();
      try {
        auto outcome = store.append(req);
        if (std::holds_alternative<AppendResult>(outcome)) {
          ++wins;
        } else {
          const auto& c = std::get<ConcurrencyConflict>(outcome);
          if (c.expected == expected && c.actual == expected + 1) ++conflicts;
        }
      } catch (...) {
        ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  EXPECT_EQ(errors.load(), 0);
}

TEST_F(EventStoreTest, SixteenConcurrentAppendsOnOneVersionExactlyOneWins) {
  auto pool = make_pool();
  PgEventStore store(*pool);
  const auto stream = new_uuid();
  ok(store.append(request(stream, 0)));
  race_sixteen(stream, 1, [this] { return make_pool(); });
  auto events = store.read_stream(stream);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].version, 1);
  EXPECT_EQ(events[1].version, 2);
}

TEST_F(EventStoreTest, SixteenConcurrentCreationsOfOneStreamExactlyOneWins) {
  const auto stream = new_uuid();
  race_sixteen(stream, 0, [this] { return make_pool(); });
  auto pool = make_pool();
  PgEventStore store(*pool);
  ASSERT_EQ(store.read_stream(stream).size(), 1u);
}

TEST_F(EventStoreTest, WritersThatRetryOnConflictLoseNothingAndLeaveNoGaps) {
  constexpr int kThreads = 8, kPerThread = 25;
  const auto stream = new_uuid();
  {
    auto pool = make_pool();
    ok(PgEventStore(*pool).append(request(stream, 0)));
  }
  std::vector<std::thread> threads;
  std::atomic<int> retries{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto pool = make_pool();
      PgEventStore store(*pool);
      for (int i = 0; i < kPerThread; ++i) {
        int version = static_cast<int>(store.read_stream(stream).size());
        for (;;) {
          auto outcome = store.append(request(stream, version));
          if (std::holds_alternative<AppendResult>(outcome)) break;
          version = std::get<ConcurrencyConflict>(outcome).actual;  // re-decide on the new state
          ++retries;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  auto pool = make_pool();
  auto events = PgEventStore(*pool).read_stream(stream);
  ASSERT_EQ(events.size(), static_cast<std::size_t>(1 + kThreads * kPerThread));
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].version, int(i) + 1);
  EXPECT_GT(retries.load(), 0) << "the writers never actually collided";
}

TEST_F(EventStoreTest, ReappendingStoredEventIdsIsANoOpReportingTheOriginal) {
  auto pool = make_pool();
  PgEventStore store(*pool);
  const auto stream = new_uuid();
  const auto req = request(stream, 0, 2);
  const auto first = ok(store.append(req));

  const auto again = ok(store.append(req));  // e.g. a retry after a lost COMMIT reply
  EXPECT_TRUE(again.deduplicated);
  EXPECT_EQ(again.new_version, 2);
  ASSERT_EQ(again.events.size(), 2u);
  EXPECT_EQ(again.events[0].position, first.events[0].position);
  EXPECT_EQ(again.events[1].position, first.events[1].position);
  EXPECT_EQ(count_events(), 2);

  // Still deduplicated after the stream moved on.
  ok(store.append(request(stream, 2)));
  EXPECT_TRUE(ok(store.append(req)).deduplicated);
  EXPECT_EQ(count_events(), 3);
}

TEST_F(EventStoreTest, AnEventIdReusedElsewhereIsRefusedNotDuplicated) {
  auto pool = make_pool();
  PgEventStore store(*pool);
  const auto s1 = new_uuid(), s2 = new_uuid();
  const auto req1 = request(s1, 0);
  ok(store.append(req1));
  auto req2 = request(s2, 0);
  req2.events[0].event_id = req1.events[0].event_id;  // same id, other stream
  auto outcome = store.append(req2);
  EXPECT_TRUE(std::holds_alternative<ConcurrencyConflict>(outcome));
  EXPECT_EQ(count_events(), 1);
  EXPECT_TRUE(store.read_stream(s2).empty());
}

TEST_F(EventStoreTest, ThePartialRetryOfABatchIsAConflict) {
  auto pool = make_pool();
  PgEventStore store(*pool);
  const auto stream = new_uuid();
  auto req = request(stream, 0, 2);
  ok(store.append(req));
  req.events[1].event_id = new_uuid();  // half the batch is new
  EXPECT_TRUE(std::holds_alternative<ConcurrencyConflict>(store.append(req)));
  EXPECT_EQ(count_events(), 2);
}

// T1 appends and stays open; T2 appends and commits. A catch-up reader must
// not see T2's event before T1 is finished, else it would checkpoint past T1's
// position and never see it.
TEST_F(EventStoreTest, ReadAllWaitsForAnEarlierOpenTransaction) {
  for (bool commit_t1 : {true, false}) {
    SCOPED_TRACE(commit_t1 ? "T1 commits" : "T1 rolls back");
    auto pool = make_pool(2);
    PgEventStore store(*pool);
    const Checkpoint start = store.read_all({}, 1000).next;

    pqxx::connection c1(db_.url());
    PgEventStore::prepare(c1);
    auto t1 = std::make_unique<pqxx::work>(c1);
    const auto s1 = new_uuid();
    const auto in_t1 = ok(PgEventStore::append_in(*t1, request(s1, 0)));

    const auto s2 = new_uuid();
    const auto t2 = ok(store.append(request(s2, 0)));  // commits
    ASSERT_GT(t2.events[0].position, in_t1.events[0].position);

    auto batch = store.read_all(start, 1000);
    EXPECT_TRUE(batch.events.empty()) << "read T2's event while T1 was still open";
    EXPECT_EQ(batch.next, start);

    if (commit_t1) {
      t1->commit();
    } else {
      t1->abort();
    }
    t1.reset();

    batch = read_all_until(store, start, commit_t1 ? 2 : 1);
    std::vector<std::string> streams;
    for (const auto& e : batch.events) streams.push_back(e.stream_id);
    if (commit_t1) {
      EXPECT_EQ(streams, (std::vector<std::string>{s1, s2}));
    } else {
      EXPECT_EQ(streams, (std::vector<std::string>{s2}));
    }
  }
}

// The harder ordering: the transaction with the lower xid writes the higher
// position. A reader keyed on position alone would skip; (tx_id, position)
// does not.
TEST_F(EventStoreTest, ReadAllNeverSkipsWhenXidOrderDiffersFromPositionOrder) {
  auto pool = make_pool(2);
  PgEventStore store(*pool);
  pqxx::connection ca(db_.url()), cb(db_.url());
  PgEventStore::prepare(ca);
  PgEventStore::prepare(cb);

  pqxx::work ta(ca);
  ta.exec("SELECT pg_current_xact_id()");  // A takes its xid first
  pqxx::work tb(cb);
  const auto sb = new_uuid();
  const auto eb = ok(PgEventStore::append_in(tb, request(sb, 0)));  // B writes first
  const auto sa = new_uuid();
  const auto ea = ok(PgEventStore::append_in(ta, request(sa, 0)));
  ASSERT_LT(eb.events[0].position, ea.events[0].position);
  ASSERT_LT(ea.events[0].tx_id, eb.events[0].tx_id);
  ta.commit();

  auto first = read_all_until(store, {}, 1);
  ASSERT_EQ(first.events.size(), 1u);
  EXPECT_EQ(first.events[0].stream_id, sa);

  tb.commit();
  auto second = read_all_until(store, first.next, 1);
  ASSERT_EQ(second.events.size(), 1u) << "B's event, at a lower position, was skipped";
  EXPECT_EQ(second.events[0].stream_id, sb);
}

// Transaction ids whose text order differs from their numeric order ('102'
// sorts before '98'). A reader once ordered by the text form of tx_id and
// skipped or repeated events whenever xids crossed a digit boundary; fresh
// clusters cross 999 -> 1000 early. Rows are stored with chosen tx_ids below
// the ~730 that initdb itself consumes, so they are in the past on any cluster
// and the case does not depend on the xid counter.
TEST_F(EventStoreTest, ReadAllOrdersTransactionIdsNumericallyNotAsText) {  // '10' < '8' as text
  pqxx::connection c(db_.url());
  {
    pqxx::work tx(c);
    for (const char* xid : {"98", "10", "99", "102", "8", "12", "9"}) {
      tx.exec("INSERT INTO events (tx_id, event_id, stream_id, stream_type, stream_version,"
              " event_type, data, metadata) VALUES ('" + std::string(xid) + "', '" + new_uuid() +
              "', '" + new_uuid() + "', 'job', 1, 'JobCreated', '{}', '{}')");
    }
    tx.commit();
  }
  auto pool = make_pool();
  PgEventStore store(*pool);
  for (int limit : {1, 2, 3, 100}) {
    SCOPED_TRACE(limit);
    std::vector<std::uint64_t> xids;
    Checkpoint cp;
    for (;;) {
      auto batch = store.read_all(cp, limit);
      if (batch.events.empty()) break;
      for (const auto& e : batch.events) xids.push_back(e.tx_id);
      cp = batch.next;
    }
    EXPECT_EQ(xids, (std::vector<std::uint64_t>{8, 9, 10, 12, 98, 99, 102}));
  }
}

// Writers commit at random moments while a reader follows the log from its
// checkpoint: the reader sees every committed event exactly once.
TEST_F(EventStoreTest, ACatchUpReaderSeesEveryEventExactlyOnceUnderConcurrentWriters) {
  constexpr int kWriters = 4, kPerWriter = 60;
  std::set<std::string> written_ids;
  std::mutex written_mu;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto pool = make_pool();
      PgEventStore store(*pool);
      for (int i = 0; i < kPerWriter; ++i) {
        auto req = request(new_uuid(), 0, 1 + (i % 3));
        // Some transactions stay open a while before committing.
        ok(store.append(req, [&](pqxx::work& tx, const auto&) {
          if ((i + w) % 5 == 0) tx.exec("SELECT pg_sleep(0.003)");
        }));
        std::lock_guard lock(written_mu);
        for (const auto& e : req.events) written_ids.insert(e.event_id);
      }
    });
  }
  auto pool = make_pool();
  PgEventStore store(*pool);
  Checkpoint cp;
  std::vector<std::string> seen;
  std::vector<std::string> trace;
  const std::size_t expected = [] {
    std::size_t n = 0;
    for (int w = 0; w < kWriters; ++w) {
      for (int i = 0; i < kPerWriter; ++i) n += 1 + (i % 3);
    }
    return n;
  }();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string reader_error;
  while (reader_error.empty() && seen.size() < expected &&
         std::chrono::steady_clock::now() < deadline) {
    ReadAllBatch batch;
    try {
      batch = store.read_all(cp, 7);  // small batches: many checkpoints
    } catch (const std::exception& e) {
      reader_error = e.what();  // reported after the writers are joined
      break;
    }
    for (const auto& e : batch.events) {
      seen.push_back(e.event_id);
      trace.push_back("after (" + std::to_string(cp.tx_id) + "," + std::to_string(cp.position) +
                      ") got " + e.event_id + " (" + std::to_string(e.tx_id) + "," +
                      std::to_string(e.position) + ")");
    }
    cp = batch.next;
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(reader_error, "");
  // Nothing more may arrive after everything was seen.
  EXPECT_TRUE(store.read_all(cp, 7).events.empty());
  {
    // The stored tx_id must be the writer's real transaction id (the row's
    // xmin), or the xmin rule of read_all would not protect anything.
    pqxx::connection c(db_.url());
    EXPECT_EQ(pqxx::work(c).exec("SELECT count(*) FROM events WHERE tx_id::text <> xmin::text")[0][0]
                  .as<int>(),
              0);
  }
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "an event was delivered twice";
  if (unique.size() != seen.size()) {
    std::map<std::string, int> counts;
    for (const auto& id : seen) counts[id]++;
    for (const auto& line : trace) {
      for (const auto& [id, n] : counts) {
        if (n > 1 && line.find(id) != std::string::npos) std::cerr << line << "\n";
      }
    }
  }
  EXPECT_EQ(unique, written_ids) << "an event was skipped";
  if (unique != written_ids) {
    pqxx::connection c(db_.url());
    pqxx::work tx(c);
    std::cerr << "reader checkpoint: (" << cp.tx_id << "," << cp.position << ") xmin now: "
              << tx.exec("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")[0][0].c_str()
              << "\n";
    for (const auto& id : written_ids) {
      if (unique.count(id)) continue;
      auto r = tx.exec_params(
          "SELECT tx_id::text, global_position, stream_version FROM events WHERE event_id = $1",
          id);
      std::cerr << "missing " << id << ": "
                << (r.empty() ? std::string("NOT IN TABLE")
                              : std::string(r[0][0].c_str()) + "," + r[0][1].c_str())
                << "\n";
    }
    for (const auto& line : trace) std::cerr << line << "\n";
  }
}

TEST_F(EventStoreTest, TheDatabaseRefusesToChangeOrRemoveEvents) {
  auto pool = make_pool();
  ok(PgEventStore(*pool).append(request(new_uuid(), 0, 2)));
  pqxx::connection c(db_.url());
  const std::vector<std::string> attempts = {
      "UPDATE events SET data = '{}'::jsonb",
      "DELETE FROM events",
      "TRUNCATE events",
      "TRUNCATE events CASCADE",
  };
  for (const auto& sql : attempts) {
    for (bool replica : {false, true}) {
      SCOPED_TRACE(sql + (replica ? " (session_replication_role=replica)" : ""));
      pqxx::work tx(c);
      if (replica) tx.exec("SET LOCAL session_replication_role = replica");
      EXPECT_THROW(tx.exec(sql), pqxx::sql_error);
    }
  }
  EXPECT_EQ(count_events(), 2);
}

}  // namespace
}  // namespace fsm::events

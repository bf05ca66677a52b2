#include "events/migrator.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <thread>

#include "support/test_env.h"

namespace fsm::events {
namespace {

TEST(Migrator, RunningTwiceAppliesNothingTheSecondTime) {
  testing::TestDatabase db;  // already migrated once
  auto report = migrate(db.url());
  EXPECT_TRUE(report.applied.empty());
  EXPECT_EQ(report.current_version, embedded_migrations().back().version);
  pqxx::connection c(db.url());
  auto rows = pqxx::work(c).exec("SELECT count(*) FROM schema_migrations");
  EXPECT_EQ(rows[0][0].as<std::size_t>(), embedded_migrations().size());
}

TEST(Migrator, ConcurrentRunnersDoNotCollide) {
  testing::TestDatabase db;
  const std::vector<Migration> extra = {
      {1000, "1000_test.sql", "CREATE TABLE migrator_probe (id int)"}};
  std::vector<std::thread> threads;
  std::atomic<int> applied{0}, failed{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      try {
        applied += static_cast<int>(migrate(db.url(), extra).applied.size());
      } catch (...) {
        ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(applied.load(), 1);
  EXPECT_EQ(failed.load(), 0);
}

TEST(Migrator, AFailingMigrationLeavesNoTraceAndIsNotRecorded) {
  testing::TestDatabase db;
  const std::vector<Migration> bad = {
      {2000, "2000_bad.sql", "CREATE TABLE half_done (id int); SELECT no_such_function();"}};
  EXPECT_THROW(migrate(db.url(), bad), pqxx::sql_error);
  pqxx::connection c(db.url());
  pqxx::work tx(c);
  EXPECT_TRUE(tx.exec("SELECT 1 FROM schema_migrations WHERE version = 2000").empty());
  EXPECT_TRUE(tx.exec("SELECT 1 FROM pg_tables WHERE tablename = 'half_done'").empty());
}

}  // namespace
}  // namespace fsm::events

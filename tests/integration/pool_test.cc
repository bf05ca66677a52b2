#include "events/pg_pool.h"

#include <gtest/gtest.h>

#include "support/test_env.h"

namespace fsm::events {
namespace {

TEST(PgPool, ReplacesAConnectionTheServerKilled) {
  testing::TestDatabase db;
  PgPool pool(db.url(), 1);
  const int pid = pool.run([](pqxx::connection& c) {
    return pqxx::work(c).exec("SELECT pg_backend_pid()")[0][0].as<int>();
  });
  {
    pqxx::connection admin(db.url());
    pqxx::work(admin).exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  }
  const int next = pool.run([](pqxx::connection& c) {
    return pqxx::work(c).exec("SELECT pg_backend_pid()")[0][0].as<int>();
  });
  EXPECT_NE(next, pid);
}

TEST(PgPool, AnUnreachableDatabaseIsDbUnavailableNotACrash) {
  PgPool pool("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2", 1);
  EXPECT_THROW(pool.run([](pqxx::connection&) { return 0; }), DbUnavailable);
}

TEST(PgPool, AnExhaustedPoolTimesOut) {
  testing::TestDatabase db;
  PgPool pool(db.url(), 1, {.acquire_timeout = std::chrono::milliseconds(100)});
  auto lease = pool.acquire();
  EXPECT_THROW(pool.acquire(), DbUnavailable);
}

}  // namespace
}  // namespace fsm::events

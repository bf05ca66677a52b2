// Lists over the read tables: paging, and totals remembered per snapshot that
// never outlive a write, whoever makes it.
#include "projections/entity_reads.h"

#include <gtest/gtest.h>

#include "events/migrator.h"
#include "support/test_env.h"

namespace fsm::projections {
namespace {

class EntityReadsTest : public ::testing::Test {
 protected:
  void add_job(pqxx::transaction_base& tx) {
    tx.exec_params(
        "INSERT INTO jobs (id, account_id, client_id, title, priority, status, version,"
        " created_at, updated_at) VALUES (gen_random_uuid(), $1::uuid, gen_random_uuid(), 't',"
        " 'normal', 'draft', 1, clock_timestamp(), clock_timestamp())",
        kAccount);
  }
  void add_jobs(int n) {
    pqxx::connection c(db_.url());
    pqxx::work tx(c);
    for (int i = 0; i < n; ++i) add_job(tx);
    tx.commit();
  }
  ListPage list(int limit = 2, int page = 1) {
    pqxx::connection c(db_.url());
    pqxx::nontransaction tx(c);
    ListQuery q;
    q.limit = limit;
    q.offset = (page - 1) * limit;
    return list_entities(tx, entity_table("job"), kAccount, q, &totals_);
  }

  static constexpr const char* kAccount = "00000000-0000-7000-8000-000000000001";
  testing::TestDatabase db_;
  TotalsCache totals_;
};

TEST_F(EntityReadsTest, PagesAndTotals) {
  add_jobs(5);
  auto p1 = list(2, 1), p3 = list(2, 3), p4 = list(2, 4);
  EXPECT_EQ(p1.rows.size(), 2u);
  EXPECT_EQ(p1.total, 5);
  EXPECT_EQ(p3.rows.size(), 1u);
  EXPECT_EQ(p3.total, 5);
  EXPECT_TRUE(p4.rows.empty());
  EXPECT_EQ(p4.total, 5) << "past the end still tells the total";
  EXPECT_EQ(list(10).total, 5);
}

TEST_F(EntityReadsTest, ACachedTotalNeverSurvivesAWrite) {
  add_jobs(5);
  EXPECT_EQ(list().total, 5);
  EXPECT_EQ(list().total, 5);  // from the cache now
  // A hand-run INSERT outside the application, as an operator might do.
  add_jobs(1);
  EXPECT_EQ(list().total, 6);
  pqxx::connection c(db_.url());
  pqxx::nontransaction raw(c);
  raw.exec("DELETE FROM jobs WHERE ctid = (SELECT min(ctid) FROM jobs)");
  EXPECT_EQ(list().total, 5);
}

TEST_F(EntityReadsTest, ATotalCountedBesideAnOpenTransactionIsNotReusedAfterItCommits) {
  add_jobs(5);
  pqxx::connection held(db_.url());
  pqxx::work open(held);
  add_job(open);  // in flight while the total is counted
  EXPECT_EQ(list().total, 5);
  EXPECT_EQ(list().total, 5);
  open.commit();
  EXPECT_EQ(list().total, 6);
}

}  // namespace
}  // namespace fsm::projections

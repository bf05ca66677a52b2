// Commands whose COMMIT's answer is lost (an in-doubt commit): the pool runs
// the command again, and the second attempt must find what the first one
// committed instead of deciding again. The database is reached through a
// proxy that lets the COMMIT through and then cuts the connection before its
// answer, so the first attempt has committed every time.
#include <gtest/gtest.h>
#include <sodium.h>

#include "commands/accounts.h"
#include "commands/command_runner.h"
#include "common/uuid.h"
#include "domain/job.h"
#include "events/pg_idempotency_store.h"
#include "support/tcp_proxy.h"
#include "support/test_env.h"

namespace fsm::commands {
namespace {

using nlohmann::json;

class InDoubtTest : public ::testing::Test {
 protected:
  InDoubtTest() {
    direct_.add_preparer(prepare);
    proxied_.add_preparer(prepare);
  }

  Command new_job(const std::string& id) {
    Command c;
    c.stream_id = id;
    c.stream_type = "job";
    c.creates = true;
    c.decide = [this](const domain::EntityState&,
                      pqxx::work&) -> Result<std::vector<domain::DomainEvent>> {
      return std::vector<domain::DomainEvent>{{"JobCreated",
                                               {{"account_id", actor_.account_id},
                                                {"client_id", new_uuid()},
                                                {"title", "t"},
                                                {"priority", "normal"},
                                                {"status", "draft"}}}};
    };
    return c;
  }

  // A change decided on the state, like a payment: deciding it again on a
  // state that already has it changes the entity again.
  Command add_bang(const std::string& id, std::optional<int> if_match = {}) {
    Command c;
    c.stream_id = id;
    c.stream_type = "job";
    c.if_match = if_match;
    c.decide = [](const domain::EntityState& s, pqxx::work&) {
      return domain::job::patch(s, {{"title", s.str("title") + "!"}});
    };
    return c;
  }

  std::string existing_job() {
    const auto id = new_uuid();
    EXPECT_TRUE(run(direct_, actor_, new_job(id)).ok());
    return id;
  }

  long count(const std::string& sql, const std::string& param) {
    pqxx::connection c(db_.url());
    return pqxx::nontransaction(c).exec_params1(sql, param)[0].as<long>();
  }
  long events_of(const std::string& stream_id) {
    return count("SELECT count(*) FROM events WHERE stream_id = $1::uuid", stream_id);
  }
  json job_row(const std::string& id) {
    pqxx::connection c(db_.url());
    return json::parse(pqxx::nontransaction(c)
                           .exec_params1("SELECT to_jsonb(j) FROM jobs j WHERE id = $1", id)[0]
                           .c_str());
  }

  testing::TestDatabase db_;
  testing::TcpProxy proxy_{db_.url()};
  events::PgPool direct_{db_.url(), 1};
  events::PgPool proxied_{proxy_.url(), 1};
  Actor actor_{new_uuid(), new_uuid(), "owner", "trace-in-doubt"};
};

TEST_F(InDoubtTest, AChangeDecidedOnTheStateIsAppliedOnce) {
  const auto id = existing_job();
  proxy_.drop_after_next_commit();
  auto r = run(proxied_, actor_, add_bang(id));
  ASSERT_EQ(proxy_.dropped(), 1) << "the COMMIT's answer was not lost";
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(events_of(id), 2) << "decided and appended a second time";
  EXPECT_EQ(job_row(id)["title"], "t!");
  EXPECT_EQ(r->version, 2);
  ASSERT_EQ(r->events.size(), 1u) << "the retry reports the first attempt's events";
  EXPECT_EQ(r->events[0].version, 2);
  EXPECT_EQ(r->events[0].metadata["trace_id"], "trace-in-doubt");
  EXPECT_EQ(json::parse(r->row)["title"], "t!") << "and the entity's row";
}

TEST_F(InDoubtTest, AConditionalChangeIsNotAConflictWithItself) {
  const auto id = existing_job();
  proxy_.drop_after_next_commit();
  auto r = run(proxied_, actor_, add_bang(id, 1));
  ASSERT_EQ(proxy_.dropped(), 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, 2);
  EXPECT_EQ(events_of(id), 2);
}

TEST_F(InDoubtTest, ACreationIsNotAConflictWithItself) {
  const auto id = new_uuid();
  proxy_.drop_after_next_commit();
  auto r = run(proxied_, actor_, new_job(id));
  ASSERT_EQ(proxy_.dropped(), 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(events_of(id), 1);
  EXPECT_EQ(json::parse(r->row)["id"], id);
}

// The one-statement creation commits without a COMMIT: its own statement's
// answer is lost.
TEST_F(InDoubtTest, AOneStatementCreationIsNotAConflictWithItself) {
  Command c;
  c.stream_id = new_uuid();
  c.stream_type = "client";
  c.creates = true;
  c.creation = domain::DomainEvent{"ClientCreated",
                                   {{"account_id", actor_.account_id},
                                    {"name", "Ada"},
                                    {"email", nullptr},
                                    {"phone", nullptr},
                                    {"notes", nullptr}}};
  proxy_.drop_after_next_statement("INSERT INTO streams");
  auto r = run(proxied_, actor_, c);
  ASSERT_EQ(proxy_.dropped(), 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, 1);
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].type, "ClientCreated");
  EXPECT_EQ(events_of(c.stream_id), 1);
  EXPECT_EQ(json::parse(r->row)["name"], "Ada");
}

// The first attempt marked the key committed; the retry must not take that
// for another request's takeover.
TEST_F(InDoubtTest, AnIdempotencyKeyMarkedByTheCommittedAttemptIsNotATakeover) {
  const auto id = existing_job();
  Actor actor = actor_;
  actor.idempotency = IdempotencyClaim{"key-1", new_uuid()};
  {
    auto lease = direct_.acquire();
    pqxx::work tx(*lease);
    ASSERT_TRUE(events::PgIdempotencyStore::claim(tx, actor.user_id, "key-1", "00",
                                                  actor.idempotency->claim_id));
    tx.commit();
  }
  proxy_.drop_after_next_commit();
  auto r = run(proxied_, actor, add_bang(id));
  ASSERT_EQ(proxy_.dropped(), 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(events_of(id), 2);
  EXPECT_EQ(job_row(id)["title"], "t!");
}

TEST_F(InDoubtTest, AnAccountIsCreatedOnce) {
  ASSERT_GE(sodium_init(), 0);
  PasswordHasher hasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, 1);
  proxy_.drop_after_next_commit();
  Result<CreatedAccount> r = Error::of(ErrorCode::kInternal, "not run");
  EXPECT_NO_THROW(
      r = create_account(proxied_, hasher, {"Acme", "o@acme.test", "O", "long enough"}, "t"));
  ASSERT_EQ(proxy_.dropped(), 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(events_of(r->account_id), 1);
  EXPECT_EQ(events_of(r->owner_id), 1);
}

}  // namespace
}  // namespace fsm::commands

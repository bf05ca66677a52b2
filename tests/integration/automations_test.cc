// Automations against PostgreSQL: the worker's record of a run (an actor that
// is no user).
#include <gtest/gtest.h>
#include <sodium.h>

#include <pqxx/pqxx>

#include "commands/accounts.h"
#include "commands/services.h"
#include "common/uuid.h"
#include "domain/automation.h"
#include "events/pg_event_store.h"
#include "projections/replay.h"
#include "support/test_env.h"

namespace fsm::commands {
namespace {

using nlohmann::json;

class AutomationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    pool_ = std::make_unique<events::PgPool>(db_.url(), 2);
    pool_->add_preparer(prepare);
    PasswordHasher hasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, 1);
    auto acct = create_account(*pool_, hasher, {"A", "o@a.test", "O", "long password"}, "t");
    ASSERT_TRUE(acct.ok());
    owner_ = {acct->account_id, acct->owner_id, "owner", "automations-test"};
    auto created =
        automation::create({*pool_, owner_}, {{"type", "invoice_followup"},
                                              {"enabled", true},
                                              {"config", nullptr},
                                              {"next_run_at", "2027-01-01T00:00:00.000Z"}});
    ASSERT_TRUE(created.ok());
    id_ = json::parse(created->row)["id"].get<std::string>();
  }

  // A statement on a plain connection of its own, as psql runs it.
  void sql(const std::string& statement) {
    pqxx::connection c(db_.url());
    pqxx::work tx(c);
    tx.exec(statement);
    tx.commit();
  }

  json query(const std::string& select) {
    pqxx::connection c(db_.url());
    pqxx::read_transaction tx(c);
    return json::parse(tx.exec1(select)[0].c_str());
  }
  json row() { return query("SELECT to_jsonb(a) FROM automations a WHERE id = '" + id_ + "'"); }
  json last_event() {
    return query("SELECT to_jsonb(e) FROM events e WHERE stream_id = '" + id_ +
                 "' ORDER BY stream_version DESC LIMIT 1");
  }
  json audit_of(long long position) {
    return query("SELECT to_jsonb(l) FROM audit_log l WHERE event_position = " +
                 std::to_string(position));
  }
  void expect_verify_clean() {
    const auto report = projections::verify(db_.url());
    for (const auto& d : report.differences) {
      ADD_FAILURE() << d.table << " " << d.id << "\n live " << d.live << "\n log  " << d.replayed;
    }
  }

  testing::TestDatabase db_;
  std::unique_ptr<events::PgPool> pool_;
  Actor owner_;
  std::string id_;
};

TEST_F(AutomationsTest, TheWorkersRecordOfARunIsAnEventByAnActorThatIsNoUser) {
  const Actor worker{owner_.account_id, kWorkerActor, "system", "pass-1"};
  const Timestamp at = parse_rfc3339("2026-11-28T09:30:00.250Z").value();
  auto ran = automation::record_run({*pool_, worker}, id_, at);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  const json answer = json::parse(ran->row);
  EXPECT_EQ(answer["last_run_at"], "2026-11-28T09:30:00.250Z");
  EXPECT_EQ(answer["next_run_at"], "2026-11-28T10:30:00.250Z");
  EXPECT_EQ(answer["version"], 2);

  const json e = last_event();
  EXPECT_EQ(e["event_type"], domain::automation::kRan);
  EXPECT_EQ(e["metadata"]["actor_id"], "system:worker");
  EXPECT_EQ(e["metadata"]["trace_id"], "pass-1");
  const json audit = audit_of(e["global_position"]);
  EXPECT_EQ(audit["actor_id"], "system:worker");
  EXPECT_EQ(audit["entity_type"], "automation");
  EXPECT_EQ(audit["action"], "update");
  expect_verify_clean();

  // Another account's automation does not exist for it.
  const Actor stranger{new_uuid(), kWorkerActor, "system", ""};
  EXPECT_EQ(automation::record_run({*pool_, stranger}, id_, at).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(automation::record_run({*pool_, worker}, new_uuid(), at).error().code,
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace fsm::commands

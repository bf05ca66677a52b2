// Automations against PostgreSQL: the worker's record of a run (an actor that
// is no user), and the runbook's hand-run UPDATE, which db/008 turns into the
// event "run now" appends while refusing every other hand edit.
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

TEST_F(AutomationsTest, TheRunbooksUpdateIsRecordedAsARunRequestAndSurvivesARebuild) {
  const json before = row();
  // The runbook's statement, verbatim.
  sql("UPDATE automations SET next_run_at = now() WHERE id = '" + id_ + "';");

  const json e = last_event();
  EXPECT_EQ(e["event_type"], domain::automation::kRunRequested);
  EXPECT_EQ(e["stream_version"], 2);
  EXPECT_EQ(e["stream_type"], "automation");
  EXPECT_EQ(e["account_id"], owner_.account_id);
  EXPECT_EQ(e["metadata"]["actor_id"], "operator:sql");
  EXPECT_EQ(e["metadata"]["account_id"], owner_.account_id);
  EXPECT_EQ(e["data"]["previous"]["next_run_at"], "2027-01-01T00:00:00.000Z");
  const std::string due = e["data"]["changes"]["next_run_at"];
  // The row is what the projector writes for that event.
  const json after = row();
  EXPECT_EQ(after["version"], 2);
  EXPECT_EQ(after["last_event_position"], e["global_position"]);
  EXPECT_EQ(query("SELECT to_jsonb(to_char(next_run_at AT TIME ZONE 'UTC',"
                  " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) FROM automations WHERE id = '" +
                  id_ + "'"),
            due);
  EXPECT_EQ(after["enabled"], before["enabled"]);
  EXPECT_EQ(after["config"], before["config"]);
  EXPECT_EQ(query("SELECT to_jsonb(version) FROM streams WHERE stream_id = '" + id_ + "'"), 2);
  // Its tx_id is its transaction's, as the gap-safe readers require.
  EXPECT_EQ(query("SELECT to_jsonb(tx_id::xid = xmin) FROM events WHERE event_id = '" +
                  e["event_id"].get<std::string>() + "'"),
            true);
  const json audit = audit_of(e["global_position"]);
  EXPECT_EQ(audit["actor_id"], "operator:sql");
  EXPECT_EQ(audit["entity_id"], id_);
  EXPECT_EQ(audit["event_type"], "AutomationRunRequested");
  // The log read in order has it after the creation.
  {
    pqxx::connection c(db_.url());
    pqxx::read_transaction tx(c);
    const auto batch = events::PgEventStore::read_all_in(
        tx, {}, 100, events::PgEventStore::Horizon::kVisible, {"", id_, "", {}, {}});
    ASSERT_EQ(batch.events.size(), 2u);
    EXPECT_EQ(batch.events[1].type, domain::automation::kRunRequested);
  }
  expect_verify_clean();

  projections::rebuild(db_.url());
  EXPECT_EQ(row(), after) << "the rebuilt row is the same";
  expect_verify_clean();
  // The rebuilt table keeps the rules: a hand edit is still an event, or refused.
  sql("UPDATE automations SET next_run_at = '2030-01-01T00:00:00Z' WHERE id = '" + id_ + "'");
  EXPECT_EQ(last_event()["stream_version"], 3);
  EXPECT_EQ(last_event()["data"]["changes"]["next_run_at"], "2030-01-01T00:00:00.000Z");
  EXPECT_THROW(sql("UPDATE automations SET enabled = false"), pqxx::sql_error);
  expect_verify_clean();
}

TEST_F(AutomationsTest, AnyOtherHandEditIsRefusedWithTheWayToDoIt) {
  const json before = row();
  const std::string where = " WHERE id = '" + id_ + "'";
  for (const std::string& statement : std::vector<std::string>{
           "UPDATE automations SET enabled = false" + where,
           "UPDATE automations SET next_run_at = now(), config = '{}'" + where,
           "UPDATE automations SET enabled = false, version = version + 1" + where,
           "UPDATE automations SET last_event_position = 1" + where,
           "DELETE FROM automations" + where, "TRUNCATE automations",
           "INSERT INTO automations (id, account_id, type, enabled, config, next_run_at, version,"
           " created_at, updated_at) VALUES ('" +
               new_uuid() + "', '" + owner_.account_id +
               "', 'visit_reminder', true, '{}', now(), 1, now(), now())"}) {
    try {
      sql(statement);
      ADD_FAILURE() << "accepted: " << statement;
    } catch (const pqxx::sql_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("fsmctl automations run-now"), std::string::npos) << what;
      EXPECT_NE(what.find("/api/v1/automations"), std::string::npos) << what;
    }
  }
  EXPECT_EQ(row(), before);
  EXPECT_EQ(last_event()["stream_version"], 1) << "nothing appended";
  expect_verify_clean();

  // The projector's own writes pass: a patch, then a delete.
  const Context ctx{*pool_, owner_};
  ASSERT_TRUE(automation::patch(ctx, {id_}, {{"enabled", false}}).ok());
  EXPECT_EQ(row()["enabled"], false);
  ASSERT_TRUE(automation::remove(ctx, {id_}).ok());
  EXPECT_EQ(query("SELECT to_jsonb(count(*)) FROM automations"), 0);
  expect_verify_clean();
}

TEST_F(AutomationsTest, AHandUpdateNeverWaitsForACommandOnTheSameAutomation) {
  // A command holds the stream's lock and would update the row next: the
  // UPDATE, which holds the row, gives up at once instead of deadlocking.
  pqxx::connection command(db_.url());
  pqxx::work held(command);
  held.exec_params("SELECT 1 FROM streams WHERE stream_id = $1 FOR UPDATE", id_);
  try {
    sql("UPDATE automations SET next_run_at = now() WHERE id = '" + id_ + "'");
    ADD_FAILURE() << "accepted while a command held the automation";
  } catch (const pqxx::sql_error& e) {
    EXPECT_NE(std::string(e.what()).find("run the UPDATE again"), std::string::npos) << e.what();
  }
  held.abort();
  sql("UPDATE automations SET next_run_at = now() WHERE id = '" + id_ + "'");
  EXPECT_EQ(last_event()["stream_version"], 2);
}

}  // namespace
}  // namespace fsm::commands

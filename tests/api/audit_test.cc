// The audit log and history over HTTP: one row per event with who, when and
// what changed; history straight from the log, deleted entities included.
#include <pqxx/pqxx>

#include "api/api_fixture.h"

namespace fsm {
namespace {

using nlohmann::json;
using testing::Headers;

class AuditTest : public testing::ApiTest {};

TEST_F(AuditTest, EveryChangeIsARowWithWhoWhenAndWhat) {
  auto created = call("POST", "/api/v1/clients", admin_, R"({"name":"Ada","phone":"1"})",
                      Headers{{"X-Request-Id", "trace-create-1"}});
  ASSERT_EQ(created.status, 201);
  const std::string id = created.json()["id"];
  ASSERT_EQ(call("PATCH", "/api/v1/clients/" + id, admin_, R"({"phone":"2"})").status, 200);
  ASSERT_EQ(call("DELETE", "/api/v1/clients/" + id, owner_).status, 204);

  auto log = call("GET", "/api/v1/audit-log?entity_id=" + id + "&sort=event_position&order=asc",
                  admin_);
  ASSERT_EQ(log.status, 200) << log.body;
  const json rows = log.json()["data"];
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["action"], "insert");
  EXPECT_EQ(rows[0]["entity_type"], "client");
  EXPECT_EQ(rows[0]["actor_id"], admin_id_);
  EXPECT_EQ(rows[0]["trace_id"], "trace-create-1");
  EXPECT_EQ(rows[0]["new_value"]["name"], "Ada");
  EXPECT_TRUE(rows[0]["old_value"].is_null());
  EXPECT_EQ(rows[1]["action"], "update");
  EXPECT_EQ(rows[1]["old_value"], json({{"phone", "1"}}));
  EXPECT_EQ(rows[1]["new_value"], json({{"phone", "2"}}));
  EXPECT_EQ(rows[2]["action"], "delete");
  EXPECT_EQ(rows[2]["actor_id"], a_.owner_id);
  EXPECT_EQ(rows[2]["old_value"]["phone"], "2");
  EXPECT_LT(rows[0]["event_position"].get<long>(), rows[1]["event_position"].get<long>());

  EXPECT_EQ(call("GET", "/api/v1/audit-log?action=delete", admin_).json()["pagination"]["total"], 1);
  EXPECT_EQ(call("GET", "/api/v1/audit-log?action=upsert", admin_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/audit-log", tech_).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/audit-log?entity_id=" + id, other_).json()["pagination"]["total"],
            0)
      << "another account sees none of it";

  // The history outlives the entity.
  auto history = call("GET", "/api/v1/clients/" + id + "/history", admin_);
  ASSERT_EQ(history.status, 200) << history.body;
  const json events = history.json()["data"];
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ClientCreated");
  EXPECT_EQ(events[2]["type"], "ClientDeleted");
  EXPECT_EQ(events[2]["version"], 3);
  EXPECT_EQ(events[0]["metadata"]["actor_id"], admin_id_);
  EXPECT_EQ(events[0]["metadata"]["trace_id"], "trace-create-1");
  EXPECT_EQ(history.json()["next_after"], events[2]["position"]);
  EXPECT_EQ(call("GET", "/api/v1/clients/" + id + "/history", other_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + id + "/history", admin_).status, 404) << "not a job";
  EXPECT_EQ(call("GET", "/api/v1/clients/" + id + "/history", tech_).status, 403);
}

TEST_F(AuditTest, PasswordsNeverReachTheAuditLog) {
  ASSERT_EQ(call("PATCH", "/api/v1/users/" + tech_id_, admin_,
                 R"({"password":"a brand new secret"})")
                .status,
            200);
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM audit_log WHERE old_value::text LIKE '%secret%'"
                     " OR new_value::text LIKE '%secret%' OR new_value::text LIKE '%argon2%'")[0]
                .as<int>(),
            0);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM audit_log WHERE event_type = 'UserPasswordChanged'")[0]
                .as<int>(),
            1);
  // The old system's runbook queries run unchanged.
  tx.exec("SELECT entity_type, action, created_at FROM audit_log"
          " WHERE entity_type IN ('visit_reminder', 'invoice_followup')"
          " ORDER BY created_at DESC LIMIT 20");
  EXPECT_GT(tx.exec("SELECT * FROM audit_log ORDER BY created_at DESC LIMIT 50").size(), 0u);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM audit_log")[0].as<long>(),
            tx.exec1("SELECT count(*) FROM events")[0].as<long>())
      << "one row per event";
}

}  // namespace
}  // namespace fsm

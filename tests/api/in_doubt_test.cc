// Requests whose commit's answer is lost between fsm-web and PostgreSQL: the
// server reaches the database through a proxy that lets one COMMIT (or one
// autocommit statement) through, then cuts the connection before its answer.
// The change has committed; fsm-web, retrying, must answer it exactly once.
#include <pqxx/pqxx>

#include "api/api_fixture.h"
#include "support/tcp_proxy.h"

namespace fsm {
namespace {

using nlohmann::json;

class InDoubtApiTest : public testing::ApiTest {
 protected:
  std::map<std::string, std::string> extra_env() override {
    return {{"DATABASE_URL", proxy_.url()}};
  }

  void SetUp() override {
    ApiTest::SetUp();
    client_ = post("/api/v1/clients", admin_, {{"name", "Client"}})["id"];
  }

  // The server goes first: the proxy is destroyed after it.
  void TearDown() override {
    web_.reset();
    ApiTest::TearDown();
  }

  template <typename... Params>
  long count(const std::string& sql, const Params&... params) {
    pqxx::connection c(db_.url());
    return pqxx::nontransaction(c).exec_params1(sql, params...)[0].template as<long>();
  }
  // The stream's events of one type, or ("") of any.
  long events_of(const std::string& stream_id, const std::string& type = "") {
    return count(
        "SELECT count(*) FROM events WHERE stream_id = $1::uuid"
        " AND (event_type = $2 OR $2 = '')",
        stream_id, type);
  }

  testing::TcpProxy proxy_{db_.url()};
  std::string client_;
};

TEST_F(InDoubtApiTest, APaymentIsRecordedOnce) {
  const json line = {{"description", "Labour"}, {"quantity", 1}, {"unit_price_cents", 10000}};
  const std::string id =
      post("/api/v1/invoices", admin_, {{"client_id", client_}, {"line_items", {line}}})["id"];
  ASSERT_EQ(call("POST", "/api/v1/invoices/" + id + "/transition", admin_,
                 json{{"status", "sent"}}.dump())
                .status,
            200);

  proxy_.drop_after_next_commit();
  auto res = call("POST", "/api/v1/invoices/" + id + "/payments", admin_,
                  json{{"amount_cents", 4000}, {"method", "card"}}.dump());
  ASSERT_EQ(proxy_.dropped(), 1) << "the COMMIT's answer was not lost";
  EXPECT_EQ(res.status, 201) << res.body;
  EXPECT_EQ(events_of(id, "InvoicePaymentRecorded"), 1);
  auto invoice = call("GET", "/api/v1/invoices/" + id, admin_).json();
  EXPECT_EQ(invoice["paid_cents"], 4000);
  EXPECT_EQ(invoice["status"], "partial");
  if (res.status == 201) {
    EXPECT_EQ(res.json()["payment"]["amount_cents"], 4000);
    EXPECT_EQ(res.json()["invoice"]["paid_cents"], 4000);
  }
}

// A new job is written by one autocommit statement: that statement's answer
// is lost.
TEST_F(InDoubtApiTest, AJobIsCreatedOnce) {
  proxy_.drop_after_next_statement("INSERT INTO streams");
  auto res = call("POST", "/api/v1/jobs", admin_,
                  json{{"client_id", client_}, {"title", "Fix the boiler"}}.dump());
  ASSERT_EQ(proxy_.dropped(), 1);
  EXPECT_EQ(res.status, 201) << res.body;
  EXPECT_EQ(count("SELECT count(*) FROM jobs WHERE client_id = $1::uuid", client_), 1);
  if (res.status == 201) {
    EXPECT_EQ(res.json()["title"], "Fix the boiler");
    EXPECT_EQ(res.json()["version"], 1);
  }
}

TEST_F(InDoubtApiTest, AConditionalPatchIsAppliedOnceAndAnsweredAsDone) {
  const std::string id =
      post("/api/v1/jobs", admin_, {{"client_id", client_}, {"title", "Fix"}})["id"];
  proxy_.drop_after_next_commit();
  auto res =
      call("PATCH", "/api/v1/jobs/" + id, admin_, R"({"title":"Fix it"})", {{"If-Match", "\"1\""}});
  ASSERT_EQ(proxy_.dropped(), 1);
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(events_of(id, "JobUpdated"), 1);
  if (res.status == 200) {
    EXPECT_EQ(res.json()["version"], 2);
  }
}

TEST_F(InDoubtApiTest, ATransitionIsAnsweredAsDone) {
  const std::string id =
      post("/api/v1/jobs", admin_, {{"client_id", client_}, {"title", "Fix"}})["id"];
  proxy_.drop_after_next_commit();
  auto res = call("POST", "/api/v1/jobs/" + id + "/transition", admin_,
                  json{{"status", "scheduled"}}.dump());
  ASSERT_EQ(proxy_.dropped(), 1);
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(events_of(id), 2);
}

}  // namespace
}  // namespace fsm

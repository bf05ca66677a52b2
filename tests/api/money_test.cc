// Estimates, invoices and payments over HTTP: exact totals, immutability,
// exactly-once conversion, gap-free numbers under concurrency, payments that
// keep status and paid_cents in agreement.
#include <barrier>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "api/api_fixture.h"
#include "projections/replay.h"

namespace fsm {
namespace {

using nlohmann::json;

class MoneyTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    client_ = post("/api/v1/clients", admin_, {{"name", "Client"}})["id"];
  }

  // Whatever a test did (line items replaced, converts, payments recorded
  // and removed), the log replayed in bulk gives exactly the live tables.
  void TearDown() override {
    for (const auto& d : projections::verify(db_.url()).differences) {
      ADD_FAILURE() << d.table << " " << d.id << "\nlive:     " << d.live
                    << "\nreplayed: " << d.replayed;
    }
    ApiTest::TearDown();
  }

  json lines() {
    return json::array({{{"description", "Valve"}, {"quantity", 1.5}, {"unit_price_cents", 333}},
                        {{"description", "Labour"}, {"quantity", 2}, {"unit_price_cents", 4500}}});
  }

  json estimate(int tax_bps = 825) {
    return post("/api/v1/estimates", admin_,
                {{"client_id", client_}, {"line_items", lines()}, {"tax_rate_bps", tax_bps}});
  }

  json invoice(json extra = json::object()) {
    json body = {{"client_id", client_}, {"line_items", lines()}};
    body.update(extra);
    return post("/api/v1/invoices", admin_, body);
  }

  testing::HttpResponse move(const std::string& kind, const std::string& id, const char* to) {
    return call("POST", "/api/v1/" + kind + "/" + id + "/transition", admin_,
                json{{"status", to}}.dump());
  }

  std::string client_;
};

TEST_F(MoneyTest, TotalsAreComputedExactlyByTheServer) {
  auto e = estimate();
  // 1.5 x 3.33 = 4.995 -> 5.00; 2 x 45.00 = 90.00; subtotal 95.00; tax 8.25% = 7.8375 -> 7.84
  ASSERT_EQ(e["line_items"].size(), 2u);
  EXPECT_EQ(e["line_items"][0]["total_cents"], 500);
  EXPECT_EQ(e["line_items"][0]["quantity"], 1.5);
  EXPECT_EQ(e["line_items"][0]["sort_order"], 0);
  EXPECT_EQ(e["line_items"][1]["total_cents"], 9000);
  EXPECT_EQ(e["subtotal_cents"], 9500);
  EXPECT_EQ(e["tax_cents"], 784);
  EXPECT_EQ(e["total_cents"], 10284);
  EXPECT_EQ(e["status"], "draft");
  EXPECT_EQ(call("GET", "/api/v1/estimates/" + e["id"].get<std::string>(), tech_).json(), e);

  auto bad = call("POST", "/api/v1/estimates", admin_,
                  json{{"client_id", client_},
                       {"line_items", json::array({{{"description", "x"},
                                                    {"quantity", 0.001},
                                                    {"unit_price_cents", 1}}})},
                       {"total_cents", 5}}
                      .dump());
  ASSERT_EQ(bad.status, 400);
  std::set<std::string> paths;
  const json error = bad.json();  // named: ranging over a temporary's member dangles
  for (const auto& i : error["error"]["details"]["issues"]) paths.insert(i["path"].dump());
  EXPECT_TRUE(paths.count(R"(["line_items",0,"quantity"])")) << bad.body;
  EXPECT_TRUE(paths.count(R"(["total_cents"])")) << "totals are the server's";
  auto huge = call("POST", "/api/v1/estimates", admin_,
                   json{{"client_id", client_},
                        {"line_items", json::array({{{"description", "x"},
                                                     {"quantity", 2},
                                                     {"unit_price_cents", 2147483647}}})}}
                       .dump());
  EXPECT_EQ(huge.status, 400) << "a total over 2^31-1 cents is refused cleanly";
}

TEST_F(MoneyTest, ADraftIsRepricedAndItsReferencesChecked) {
  const std::string id = estimate()["id"];
  auto untaxed = call("PATCH", "/api/v1/estimates/" + id, admin_, R"({"tax_rate_bps":0})");
  ASSERT_EQ(untaxed.status, 200) << untaxed.body;
  EXPECT_EQ(untaxed.json()["tax_cents"], 0);
  EXPECT_EQ(untaxed.json()["total_cents"], 9500);
  EXPECT_EQ(untaxed.json()["line_items"].size(), 2u) << "lines kept";
  const std::string other = post("/api/v1/clients", admin_, {{"name", "Other"}})["id"];
  const std::string elsewhere =
      post("/api/v1/clients/" + other + "/properties", admin_, {{"address", "9 Elm"}})["id"];
  auto wrong = call("PATCH", "/api/v1/estimates/" + id, admin_,
                    json{{"property_id", elsewhere}}.dump());
  EXPECT_EQ(wrong.status, 400) << "a property of another client";
  auto one_line = call("PATCH", "/api/v1/estimates/" + id, admin_,
                       json{{"line_items", json::array({{{"description", "x"},
                                                         {"quantity", 0.5},
                                                         {"unit_price_cents", 3}}})}}
                           .dump());
  ASSERT_EQ(one_line.status, 200) << one_line.body;
  EXPECT_EQ(one_line.json()["line_items"].size(), 1u);
  EXPECT_EQ(one_line.json()["total_cents"], 2) << "0.5 x 3 = 1.5 -> 2";
}

TEST_F(MoneyTest, ASentEstimateAcceptsInternalNotesOnly) {
  const std::string id = estimate()["id"];
  ASSERT_EQ(move("estimates", id, "sent").status, 200);
  auto notes = call("PATCH", "/api/v1/estimates/" + id, admin_, R"({"internal_notes":"call"})");
  EXPECT_EQ(notes.status, 200) << notes.body;
  auto lines_change = call("PATCH", "/api/v1/estimates/" + id, admin_,
                           json{{"line_items", lines()}}.dump());
  EXPECT_EQ(lines_change.status, 422);
  EXPECT_EQ(code_of(lines_change), "IMMUTABLE_ENTITY");
  ASSERT_EQ(move("estimates", id, "approved").status, 200);
  EXPECT_EQ(call("PATCH", "/api/v1/estimates/" + id, admin_, R"({"internal_notes":"x"})").status,
            422);
  EXPECT_EQ(call("POST", "/api/v1/estimates", tech_, "{}").status, 403);
  EXPECT_EQ(call("GET", "/api/v1/estimates", tech_).status, 403);
}

TEST_F(MoneyTest, EightConcurrentConversionsMakeOneInvoice) {
  const std::string id = estimate()["id"];
  EXPECT_EQ(code_of(call("POST", "/api/v1/estimates/" + id + "/convert", admin_)),
            "INVALID_TRANSITION")
      << "only approved estimates convert";
  move("estimates", id, "sent");
  move("estimates", id, "approved");
  constexpr int kN = 8;
  std::barrier start(kN);
  std::vector<testing::HttpResponse> answers(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      answers[i] = call("POST", "/api/v1/estimates/" + id + "/convert", admin_);
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  std::set<std::string> invoices;
  for (const auto& a : answers) {
    ASSERT_TRUE(a.status == 201 || a.status == 200) << a.body;
    created += a.status == 201;
    EXPECT_EQ(a.json()["created"], a.status == 201);
    invoices.insert(a.json()["invoice_id"]);
  }
  EXPECT_EQ(created, 1);
  ASSERT_EQ(invoices.size(), 1u);
  auto inv = call("GET", "/api/v1/invoices/" + *invoices.begin(), admin_).json();
  EXPECT_EQ(inv["status"], "draft");
  EXPECT_EQ(inv["estimate_id"], id);
  EXPECT_EQ(inv["total_cents"], 10284);
  ASSERT_EQ(inv["line_items"].size(), 2u);
  EXPECT_FALSE(inv["line_items"][0]["estimate_line_item_id"].is_null());
  pqxx::connection c(db_.url());
  EXPECT_EQ(pqxx::work(c).exec1("SELECT count(*) FROM invoices")[0].as<int>(), 1);
}

TEST_F(MoneyTest, ConcurrentInvoicesGetConsecutiveNumbers) {
  constexpr int kN = 6;
  std::barrier start(kN);
  std::vector<std::string> numbers(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto res = call("POST", "/api/v1/invoices", admin_,
                      json{{"client_id", client_}, {"line_items", lines()}}.dump());
      if (res.status == 201) numbers[i] = res.json()["invoice_number"];
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> got(numbers.begin(), numbers.end());
  EXPECT_EQ(got, (std::set<std::string>{"INV-0001", "INV-0002", "INV-0003", "INV-0004",
                                         "INV-0005", "INV-0006"}));
  // Another account counts on its own.
  const std::string other_client = post("/api/v1/clients", other_, {{"name", "B"}})["id"];
  EXPECT_EQ(post("/api/v1/invoices", other_,
                 {{"client_id", other_client}, {"line_items", lines()}})["invoice_number"],
            "INV-0001");
}

TEST_F(MoneyTest, PaymentsKeepStatusAndMoneyInAgreement) {
  auto inv = invoice({{"due_date", "2030-01-01T00:00:00Z"}});
  const std::string id = inv["id"];
  const std::string pay = "/api/v1/invoices/" + id + "/payments";
  auto on_draft = call("POST", pay, admin_, json{{"amount_cents", 100}, {"method", "cash"}}.dump());
  EXPECT_EQ(code_of(on_draft), "INVALID_TRANSITION");
  ASSERT_EQ(move("invoices", id, "sent").status, 200);
  EXPECT_EQ(code_of(move("invoices", id, "paid")), "INVALID_TRANSITION")
      << "manual paid with nothing paid";
  auto over = call("POST", pay, admin_, json{{"amount_cents", 9501}, {"method", "card"}}.dump());
  EXPECT_EQ(code_of(over), "VALIDATION_ERROR");
  EXPECT_EQ(code_of(call("POST", pay, admin_, json{{"amount_cents", 1}, {"method", "bitcoin"}}.dump())),
            "VALIDATION_ERROR");

  auto first = call("POST", pay, admin_, json{{"amount_cents", 4000}, {"method", "card"}}.dump());
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.json()["invoice"]["status"], "partial");
  EXPECT_EQ(first.json()["invoice"]["paid_cents"], 4000);
  EXPECT_EQ(first.json()["payment"]["amount_cents"], 4000);
  auto rest = call("POST", pay, admin_, json{{"amount_cents", 5500}, {"method", "cash"}}.dump());
  ASSERT_EQ(rest.status, 201) << rest.body;
  EXPECT_EQ(rest.json()["invoice"]["status"], "paid");
  EXPECT_FALSE(call("GET", "/api/v1/invoices/" + id, admin_).json()["paid_at"].is_null());
  EXPECT_EQ(call("GET", pay, admin_).json()["data"].size(), 2u);

  const std::string second = rest.json()["payment"]["id"];
  EXPECT_EQ(call("DELETE", "/api/v1/payments/" + second, admin_).status, 403) << "owner only";
  ASSERT_EQ(call("DELETE", "/api/v1/payments/" + second, owner_).status, 204);
  auto after = call("GET", "/api/v1/invoices/" + id, admin_).json();
  EXPECT_EQ(after["status"], "partial");
  EXPECT_EQ(after["paid_cents"], 4000);
  EXPECT_TRUE(after["paid_at"].is_null());
  EXPECT_EQ(call("DELETE", "/api/v1/payments/" + second, owner_).status, 404);
  EXPECT_EQ(call("PATCH", "/api/v1/invoices/" + id, admin_, R"({"notes":"x"})").status, 422)
      << "only drafts are editable";
}

// GET /invoices/:id/payments is a list like the others: {data, pagination},
// page/limit/sort/order honoured, anything else (as_of included) refused.
TEST_F(MoneyTest, PaymentsAreAPagedListThatRefusesOtherParameters) {
  const std::string id = invoice()["id"];
  const std::string pay = "/api/v1/invoices/" + id + "/payments";
  ASSERT_EQ(move("invoices", id, "sent").status, 200);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(call("POST", pay, admin_,
                   json{{"amount_cents", 100 * i},
                        {"method", "cash"},
                        {"received_at", "2026-11-0" + std::to_string(i) + "T09:00:00Z"}}
                       .dump())
                  .status,
              201);
  }
  auto all = call("GET", pay, admin_);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json()["pagination"], (json{{"page", 1}, {"limit", 20}, {"total", 3}}));
  ASSERT_EQ(all.json()["data"].size(), 3u);
  EXPECT_EQ(all.json()["data"][0]["amount_cents"], 100) << "oldest first";
  auto page2 = call("GET", pay + "?limit=2&page=2", admin_).json();
  EXPECT_EQ(page2["pagination"], (json{{"page", 2}, {"limit", 2}, {"total", 3}}));
  ASSERT_EQ(page2["data"].size(), 1u);
  EXPECT_EQ(page2["data"][0]["amount_cents"], 300);
  auto biggest = call("GET", pay + "?sort=amount_cents&order=desc&limit=1", admin_).json();
  ASSERT_EQ(biggest["data"].size(), 1u);
  EXPECT_EQ(biggest["data"][0]["amount_cents"], 300);
  for (const auto& [q, name] :
       std::vector<std::pair<std::string, std::string>>{{"?as_of=2026-11-02T00:00:00Z", "as_of"},
                                                        {"?foo=1", "foo"},
                                                        {"?limit=0", "limit"},
                                                        {"?sort=method", "sort"}}) {
    auto res = call("GET", pay + q, admin_);
    EXPECT_EQ(res.status, 400) << q << " -> " << res.body;
    EXPECT_EQ(code_of(res), "VALIDATION_ERROR") << q;
    if (res.status == 400) {
      EXPECT_EQ(res.json()["error"]["details"]["issues"][0]["path"], json::array({name})) << q;
    }
  }
}

// Status agrees with money: with a zero total nothing is owed, so the invoice
// is not sent as unpaid (it can be voided). Nothing changes.
TEST_F(MoneyTest, AZeroTotalInvoiceCannotBeSent) {
  const std::string id = invoice({{"line_items", json::array({{{"description", "Free check-up"},
                                                               {"quantity", 1},
                                                               {"unit_price_cents", 0}}})}})["id"];
  auto sent = move("invoices", id, "sent");
  EXPECT_EQ(sent.status, 400) << sent.body;
  EXPECT_EQ(code_of(sent), "INVALID_TRANSITION");
  EXPECT_NE(sent.body.find("paid_cents < total_cents"), std::string::npos) << sent.body;
  auto now = call("GET", "/api/v1/invoices/" + id, admin_).json();
  EXPECT_EQ(now["status"], "draft");
  EXPECT_EQ(now["version"], 1);
  EXPECT_EQ(move("invoices", id, "void").status, 200);
}

TEST_F(MoneyTest, AnotherAccountsDocumentsAreAlways404) {
  const std::string e = estimate()["id"];
  const std::string i = invoice()["id"];
  EXPECT_EQ(call("GET", "/api/v1/estimates/" + e, other_).status, 404);
  EXPECT_EQ(call("POST", "/api/v1/estimates/" + e + "/convert", other_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/invoices/" + i, other_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/invoices/" + i + "/payments", other_).status, 404);
  EXPECT_EQ(call("POST", "/api/v1/invoices/" + i + "/payments", other_,
                 json{{"amount_cents", 1}, {"method", "cash"}}.dump())
                .status,
            404);
  EXPECT_EQ(call("GET", "/api/v1/invoices", other_).json()["pagination"]["total"], 0);
  // Referencing another account's client in a body is refused.
  const std::string foreign = post("/api/v1/clients", other_, {{"name", "B"}})["id"];
  EXPECT_EQ(call("POST", "/api/v1/invoices", admin_,
                 json{{"client_id", foreign}, {"line_items", lines()}}.dump())
                .status,
            400);
}

TEST_F(MoneyTest, AJobIsInvoicedOnlyOnceAnInvoiceReferencesIt) {
  const std::string job = post("/api/v1/jobs", admin_, {{"client_id", client_}, {"title", "J"}})["id"];
  for (const char* to : {"scheduled", "in_progress", "completed"}) move("jobs", job, to);
  EXPECT_EQ(code_of(move("jobs", job, "invoiced")), "INVALID_TRANSITION");
  invoice({{"job_id", job}});
  EXPECT_EQ(move("jobs", job, "invoiced").status, 200);
  EXPECT_EQ(call("DELETE", "/api/v1/clients/" + client_, owner_).status, 409);
}

}  // namespace
}  // namespace fsm

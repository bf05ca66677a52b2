// Nothing a client sends crashes the server or earns a 500: every write route
// gets bodies built to hurt (deep nesting, invalid UTF-8, NULs, huge numbers,
// wrong types), as the owner, and must answer a 4xx in the contract's shape.
#include "api/api_fixture.h"

namespace fsm {
namespace {

using nlohmann::json;

class HostileInputTest : public testing::ApiTest {};

std::vector<std::string> hostile_bodies() {
  std::vector<std::string> out = {
      "",
      "null",
      "[]",
      "\"just a string\"",
      "{\"name\":",
      "{\"name\":\"\\u0000\"}",
      "{\"name\":\"\xff\xfe\"}",
      "{\"name\":\"\\ud800\"}",
      "{\"status\":1e999999}",
      "{\"status\":-0,\"title\":[],\"client_id\":{}}",
      "{\"scheduled_start\":\"2026-11-28T09:title+1$:00\",\"scheduled_end\":\"9999-99-99T99:99:99Z\"}",
      "{\"client_id\":\"00000000-0000-0000-0000-000000000000\",\"title\":\"x\"}",
      "{\"email\":\"a@b.c\",\"full_name\":\"x\",\"role\":\"owner\",\"password\":\"" +
          std::string(300, 'p') + "\"}",
      "{\"a\":1,\"a\":2}",
  };
  out.push_back(std::string(100000, '[') + std::string(100000, ']'));
  out.push_back("{\"x\":" + std::string(50000, '{') + std::string(50000, '}') + "}");
  out.push_back("{\"name\":\"" + std::string(600000, 'n') + "\"}");
  return out;
}

TEST_F(HostileInputTest, WriteRoutesAnswer4xxToAnyBody) {
  const std::string client = post("/api/v1/clients", owner_, {{"name", "C"}})["id"];
  const std::string job = post("/api/v1/jobs", owner_, {{"client_id", client}, {"title", "J"}})["id"];
  const std::string visit = post("/api/v1/jobs/" + job + "/visits", owner_,
                                 {{"scheduled_start", "2026-12-01T09:00:00Z"},
                                  {"scheduled_end", "2026-12-01T10:00:00Z"}})["id"];
  const std::string estimate =
      post("/api/v1/estimates", owner_,
           {{"client_id", client},
            {"line_items", json::array({{{"description", "d"}, {"quantity", 1},
                                         {"unit_price_cents", 100}}})}})["id"];
  const std::string invoice =
      post("/api/v1/invoices", owner_,
           {{"client_id", client},
            {"line_items", json::array({{{"description", "d"}, {"quantity", 1},
                                         {"unit_price_cents", 100}}})}})["id"];
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"POST", "/api/v1/estimates"},
      {"PATCH", "/api/v1/estimates/" + estimate},
      {"POST", "/api/v1/estimates/" + estimate + "/transition"},
      {"POST", "/api/v1/invoices"},
      {"PATCH", "/api/v1/invoices/" + invoice},
      {"POST", "/api/v1/invoices/" + invoice + "/transition"},
      {"POST", "/api/v1/invoices/" + invoice + "/payments"},
      {"POST", "/api/v1/auth/login"},
      {"POST", "/api/v1/clients"},
      {"PATCH", "/api/v1/clients/" + client},
      {"POST", "/api/v1/clients/" + client + "/properties"},
      {"POST", "/api/v1/users"},
      {"PATCH", "/api/v1/users/" + tech_id_},
      {"POST", "/api/v1/jobs"},
      {"PATCH", "/api/v1/jobs/" + job},
      {"POST", "/api/v1/jobs/" + job + "/transition"},
      {"POST", "/api/v1/jobs/" + job + "/visits"},
      {"PATCH", "/api/v1/visits/" + visit},
      {"POST", "/api/v1/visits/" + visit + "/transition"},
  };
  for (const auto& [method, path] : routes) {
    for (const auto& body : hostile_bodies()) {
      auto res = call(method, path, owner_, body);
      EXPECT_GE(res.status, 400) << method << " " << path << " " << body.substr(0, 80);
      EXPECT_LT(res.status, 500) << method << " " << path << " " << body.substr(0, 80) << " -> "
                                 << res.body;
      EXPECT_FALSE(code_of(res).empty()) << res.body.substr(0, 200);
    }
  }
  // Hostile query strings on the lists.
  for (const std::string q : {"?page=0", "?limit=1000", "?sort=id;DROP TABLE jobs",
                              "?status=%00", "?page=99999999999999999999", "?from=%ff%fe",
                              "?assigned_user_id=' OR 1=1 --"}) {
    auto res = call("GET", "/api/v1/visits" + q, owner_);
    EXPECT_EQ(res.status, 400) << q << " -> " << res.body;
  }
  EXPECT_EQ(call("GET", "/api/health", owner_).status, 200) << "still serving";
}

// Instants outside years 0001..9999 in UTC (after the offset) reached
// PostgreSQL's range check (a 500) or came back with a five-digit year. Every
// timestamp field and filter refuses them with a 400 naming the field, and
// nothing is written.
TEST_F(HostileInputTest, TimestampsOutsideYears1To9999AreRefusedByName) {
  const std::string client = post("/api/v1/clients", owner_, {{"name", "C"}})["id"];
  const std::string job =
      post("/api/v1/jobs", owner_, {{"client_id", client}, {"title", "J"}})["id"];
  const json line =
      json::array({{{"description", "d"}, {"quantity", 1}, {"unit_price_cents", 100}}});
  const std::string invoice =
      post("/api/v1/invoices", owner_, {{"client_id", client}, {"line_items", line}})["id"];
  ASSERT_EQ(call("POST", "/api/v1/invoices/" + invoice + "/transition", owner_,
                 json{{"status", "sent"}}.dump())
                .status,
            200);
  const std::vector<std::string> bad = {"0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
                                        "9999-12-31T23:59:59-14:00"};
  auto expect_named = [](const testing::HttpResponse& res, const std::string& field,
                         const std::string& what) {
    EXPECT_EQ(res.status, 400) << what << " -> " << res.body;
    EXPECT_EQ(code_of(res), "VALIDATION_ERROR") << what;
    auto j = json::parse(res.body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j["error"].contains("details")) << what << " -> " << res.body;
    EXPECT_EQ(j["error"]["details"]["issues"][0]["path"], json::array({field})) << what;
  };
  for (const auto& t : bad) {
    const std::vector<std::tuple<std::string, std::string, json, std::string>> bodies = {
        {"POST",
         "/api/v1/jobs",
         {{"client_id", client}, {"title", "J"}, {"scheduled_start", t}},
         "scheduled_start"},
        {"PATCH", "/api/v1/jobs/" + job, {{"scheduled_end", t}}, "scheduled_end"},
        {"POST",
         "/api/v1/jobs/" + job + "/visits",
         {{"scheduled_start", t}, {"scheduled_end", "2026-12-01T10:00:00Z"}},
         "scheduled_start"},
        {"POST",
         "/api/v1/estimates",
         {{"client_id", client}, {"line_items", line}, {"expires_at", t}},
         "expires_at"},
        {"POST",
         "/api/v1/invoices",
         {{"client_id", client}, {"line_items", line}, {"due_date", t}},
         "due_date"},
        {"POST",
         "/api/v1/invoices/" + invoice + "/payments",
         {{"amount_cents", 10}, {"method", "cash"}, {"received_at", t}},
         "received_at"},
    };
    for (const auto& [method, path, body, field] : bodies) {
      expect_named(call(method, path, owner_, body.dump()), field, method + " " + path + " " + t);
    }
    std::string q = t;
    if (auto plus = q.find('+'); plus != std::string::npos) q.replace(plus, 1, "%2B");
    for (const auto& [path, field] : std::vector<std::pair<std::string, std::string>>{
             {"/api/v1/visits?from=" + q, "from"},
             {"/api/v1/visits?to=" + q, "to"},
             {"/api/v1/audit-log?from=" + q, "from"},
             {"/api/v1/audit-log?to=" + q, "to"},
             {"/api/v1/events?from=" + q, "from"},
             {"/api/v1/events?to=" + q, "to"},
             {"/api/v1/jobs/" + job + "?as_of=" + q, "as_of"}}) {
      expect_named(call("GET", path, owner_), field, path);
    }
  }
  // Nothing was written: one job, one invoice, no payment.
  EXPECT_EQ(call("GET", "/api/v1/jobs", owner_).json()["pagination"]["total"], 1);
  EXPECT_EQ(call("GET", "/api/v1/estimates", owner_).json()["pagination"]["total"], 0);
  EXPECT_EQ(call("GET", "/api/v1/invoices", owner_).json()["pagination"]["total"], 1);
  EXPECT_EQ(call("GET", "/api/v1/jobs/" + job, owner_).json()["version"], 1);
  EXPECT_EQ(call("GET", "/api/v1/invoices/" + invoice, owner_).json()["paid_cents"], 0);
  // The edges themselves are fine, and answered with four-digit years.
  auto edge = call("POST", "/api/v1/jobs", owner_,
                   json{{"client_id", client},
                        {"title", "E"},
                        {"scheduled_start", "0001-01-01T00:00:00Z"},
                        {"scheduled_end", "9999-12-31T23:59:59+14:00"}}
                       .dump());
  ASSERT_EQ(edge.status, 201) << edge.body;
  EXPECT_EQ(edge.json()["scheduled_start"], "0001-01-01T00:00:00.000Z");
  EXPECT_EQ(edge.json()["scheduled_end"], "9999-12-31T09:59:59.000Z");
}

// A body is one JSON value and nothing after it (nlohmann reads a NUL as the
// end of the input), and an object names each key once: which of two equal
// keys counts is anybody's guess, so neither does. Nothing is written.
TEST_F(HostileInputTest, TrailingBytesAndDuplicateKeysAreRefused) {
  const std::string client = post("/api/v1/clients", owner_, {{"name", "C"}})["id"];
  const std::string lines =
      R"("line_items":[{"description":"d","quantity":1,"unit_price_cents":100}])";
  const std::vector<std::tuple<std::string, std::string, std::string, json>> cases = {
      {"POST", "/api/v1/clients", std::string(R"({"name":"a"})") + '\0', json::array()},
      {"POST", "/api/v1/clients", std::string(R"({"name":"a"})") + '\0' + "junk", json::array()},
      {"POST", "/api/v1/clients", std::string(R"({"name":"a"} )") + '\0' + '\n', json::array()},
      {"POST", "/api/v1/clients", R"({"name":"a"}x)", json::array()},
      {"POST", "/api/v1/clients", R"({"name":"a"} {"name":"b"})", json::array()},
      {"POST", "/api/v1/clients", R"({"name":"a","name":"b"})", json::array({"name"})},
      {"PATCH", "/api/v1/clients/" + client, R"({"name":"a","notes":"n","name":"a"})",
       json::array({"name"})},
      {"POST", "/api/v1/invoices",
       R"({"client_id":")" + client +
           R"(","line_items":[{"description":"d","quantity":1,"unit_price_cents":100,"quantity":2}]})",
       json::array({"line_items", 0, "quantity"})},
      {"POST", "/api/v1/invoices",
       R"({"client_id":")" + client + R"(",)" + lines + "," + lines + "}",
       json::array({"line_items"})},
      {"POST", "/api/v1/auth/login", R"({"email":"owner@a.test","email":"x@y.z","password":"p"})",
       json::array({"email"})},
  };
  for (const auto& [method, path, body, where] : cases) {
    auto res = call(method, path, owner_, body);
    EXPECT_EQ(res.status, 400) << method << " " << path << " " << body << " -> " << res.body;
    EXPECT_EQ(code_of(res), "VALIDATION_ERROR") << body;
    if (res.status == 400) {
      EXPECT_EQ(res.json()["error"]["details"]["issues"][0]["path"], where) << body;
    }
  }
  EXPECT_EQ(call("GET", "/api/v1/clients", owner_).json()["pagination"]["total"], 1);
  EXPECT_EQ(call("GET", "/api/v1/clients/" + client, owner_).json()["version"], 1);
  EXPECT_EQ(call("GET", "/api/v1/invoices", owner_).json()["pagination"]["total"], 0);
  // Whitespace after the value is fine, and so are equal keys in different objects.
  EXPECT_EQ(call("POST", "/api/v1/clients", owner_, "{\"name\":\"ok\"} \r\n\t ").status, 201);
  EXPECT_EQ(call("POST", "/api/v1/invoices", owner_,
                 R"({"client_id":")" + client +
                     R"(","line_items":[{"description":"a","quantity":1,"unit_price_cents":1},)"
                     R"({"description":"b","quantity":1,"unit_price_cents":2}]})")
                .status,
            201);
}

}  // namespace
}  // namespace fsm

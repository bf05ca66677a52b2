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

}  // namespace
}  // namespace fsm

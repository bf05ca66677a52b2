// Automations: given these events, when this command (at this time), then
// these events / this error. Bodies go through the same validation as the API.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "domain/automation.h"

namespace fsm::domain {
namespace {

using nlohmann::json;
namespace rules = automation;

const Timestamp kNow = parse_rfc3339("2026-11-28T09:30:00.123456Z").value();

// A body through the API's validation, then the creation decision.
Result<Creation> create(const json& body) {
  auto fields = validate_body(body, rules::create_fields(), Mode::kCreate);
  if (!fields) return fields.error();
  return rules::create(*fields, "acct", kNow);
}

EntityState given(const json& body, const std::vector<DomainEvent>& later = {}) {
  auto c = create(body);
  EXPECT_TRUE(c.ok());
  EntityState s;
  evolve(s, c->event.type, c->event.data, 1);
  int v = 1;
  for (const auto& e : later) evolve(s, e.type, e.data, ++v);
  return s;
}

// The paths of a validation error's issues, joined ("config.days_overdue.1").
std::set<std::string> issue_paths(const Error& e) {
  std::set<std::string> out;
  for (const auto& i : e.issues) {
    std::string p;
    for (const auto& part : i.path) {
      if (!p.empty()) p += '.';
      p += std::holds_alternative<std::string>(part) ? std::get<std::string>(part)
                                                     : std::to_string(std::get<std::int64_t>(part));
    }
    out.insert(p);
  }
  return out;
}

std::set<std::string> refused(const json& body) {
  auto r = create(body);
  EXPECT_FALSE(r.ok()) << body.dump();
  if (r.ok()) return {};
  EXPECT_EQ(r.error().code, ErrorCode::kValidation) << body.dump();
  return issue_paths(r.error());
}

TEST(AutomationRules, CreationDefaultsPerType) {
  auto reminder = create({{"type", "visit_reminder"}});
  ASSERT_TRUE(reminder.ok());
  EXPECT_EQ(reminder->event.type, "AutomationCreated");
  EXPECT_EQ(reminder->event.data,
            json({{"account_id", "acct"},
                  {"type", "visit_reminder"},
                  {"enabled", true},
                  {"config", {{"hours_before", 24}}},
                  {"next_run_at", "2026-11-28T09:30:00.123Z"},  // now, at the API's precision
                  {"last_run_at", nullptr}}));
  auto followup = create({{"type", "invoice_followup"},
                          {"enabled", false},
                          {"next_run_at", "2026-12-01T08:00:00+01:00"}});
  ASSERT_TRUE(followup.ok());
  EXPECT_EQ(followup->event.data["config"], json({{"days_overdue", {7, 14, 30}}}));
  EXPECT_EQ(followup->event.data["enabled"], false);
  EXPECT_EQ(followup->event.data["next_run_at"], "2026-12-01T07:00:00.000Z");
  // A config that omits its setting gets the default.
  EXPECT_EQ(create({{"type", "visit_reminder"}, {"config", json::object()}})
                ->event.data["config"]["hours_before"],
            24);
}

TEST(AutomationRules, HoursBeforeIsAnIntegerFrom1To168) {
  for (const json& ok : {json(1), json(168), json(48)}) {
    auto c = create({{"type", "visit_reminder"}, {"config", {{"hours_before", ok}}}});
    ASSERT_TRUE(c.ok()) << ok;
    EXPECT_EQ(c->event.data["config"]["hours_before"], ok);
  }
  const json decimal = parse_json_object(R"({"x":24.5})").value()["x"];
  for (const json& bad : {json(0), json(169), json(-1), json("24"), json(nullptr), json(true),
                          json::array({24}), decimal, json(18446744073709551615ull)}) {
    EXPECT_EQ(refused({{"type", "visit_reminder"}, {"config", {{"hours_before", bad}}}}),
              std::set<std::string>{"config.hours_before"})
        << bad;
  }
}

TEST(AutomationRules, DaysOverdueAreDistinctWholeDaysStoredAscending) {
  auto c = create({{"type", "invoice_followup"}, {"config", {{"days_overdue", {30, 1, 14}}}}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->event.data["config"]["days_overdue"], json({1, 14, 30}));
  EXPECT_TRUE(create({{"type", "invoice_followup"}, {"config", {{"days_overdue", {3650}}}}}).ok());

  auto steps = [](const json& days) {
    return refused({{"type", "invoice_followup"}, {"config", {{"days_overdue", days}}}});
  };
  EXPECT_EQ(steps(json::array()), std::set<std::string>{"config.days_overdue"});
  EXPECT_EQ(steps(7), std::set<std::string>{"config.days_overdue"});
  EXPECT_EQ(steps(json::array({7, 0, 7, "9", 3651})),
            (std::set<std::string>{"config.days_overdue.1", "config.days_overdue.2",
                                   "config.days_overdue.3", "config.days_overdue.4"}));
  json many = json::array();
  for (int d = 1; d <= 51; ++d) many.push_back(d);
  EXPECT_EQ(steps(many), std::set<std::string>{"config.days_overdue"});
}

TEST(AutomationRules, AConfigHoldsItsTypesSettingsOnlyAndIsAnObject) {
  EXPECT_EQ(refused({{"type", "visit_reminder"}, {"config", {{"days_overdue", {7}}}}}),
            std::set<std::string>{"config.days_overdue"});
  EXPECT_EQ(refused({{"type", "invoice_followup"},
                     {"config", {{"days_overdue", {7}}, {"hours_before", 2}, {"colour", 1}}}}),
            (std::set<std::string>{"config.hours_before", "config.colour"}));
  const json decimal = parse_json_object(R"({"x":1.5})").value()["x"];
  for (const json& bad : {json(1), json("{}"), json::array(), decimal, json(nullptr)}) {
    EXPECT_EQ(refused({{"type", "visit_reminder"}, {"config", bad}}),
              std::set<std::string>{"config"})
        << bad;
  }
  EXPECT_EQ(refused({{"type", "daily_digest"}, {"enabled", "yes"}, {"next_run_at", "soon"}}),
            (std::set<std::string>{"type", "enabled", "next_run_at"}));
  EXPECT_EQ(refused({{"enabled", nullptr}}), (std::set<std::string>{"type", "enabled"}));
}

TEST(AutomationRules, APatchChangesWhatItNamesAndNeverTheType) {
  const auto a = given({{"type", "visit_reminder"}});
  auto off = rules::patch(a, {{"enabled", false}, {"config", {{"hours_before", 2}}}});
  ASSERT_TRUE(off.ok());
  ASSERT_EQ(off->size(), 1u);
  EXPECT_EQ((*off)[0].type, "AutomationUpdated");
  EXPECT_EQ((*off)[0].data["changes"],
            json({{"enabled", false}, {"config", {{"hours_before", 2}}}}));
  EXPECT_EQ((*off)[0].data["previous"],
            json({{"enabled", true}, {"config", {{"hours_before", 24}}}}));
  // Checked against the stored type, replaced whole (omitted settings take defaults).
  EXPECT_EQ(issue_paths(rules::patch(a, {{"config", {{"days_overdue", {7}}}}}).error()),
            std::set<std::string>{"config.days_overdue"});
  EXPECT_TRUE(rules::patch(a, {{"config", json::object()}, {"enabled", true}})->empty())
      << "a patch that changes nothing appends nothing";
  for (const json& type : {json("invoice_followup"), json("visit_reminder"), json(nullptr)}) {
    auto body = validate_body({{"type", type}}, rules::patch_fields(), Mode::kPatch);
    ASSERT_TRUE(body.ok()) << type;
    auto r = rules::patch(a, *body);
    ASSERT_FALSE(r.ok()) << type;
    EXPECT_EQ(issue_paths(r.error()), std::set<std::string>{"type"});
  }
}

TEST(AutomationRules, RunNowMakesItDueAtTheTimeGivenEvenWhenDisabled) {
  const auto a = given(
      {{"type", "invoice_followup"}, {"enabled", false}, {"next_run_at", "2027-01-01T00:00:00Z"}});
  const Timestamp t = parse_rfc3339("2026-11-28T10:00:00.999999Z").value();
  auto r = rules::request_run(a, t);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].type, rules::kRunRequested);
  EXPECT_EQ((*r)[0].data, json({{"changes", {{"next_run_at", "2026-11-28T10:00:00.999Z"}}},
                                {"previous", {{"next_run_at", "2027-01-01T00:00:00.000Z"}}}}));
  auto s = a;
  evolve(s, (*r)[0].type, (*r)[0].data, 2);
  EXPECT_EQ(s.str("next_run_at"), "2026-11-28T10:00:00.999Z");
  EXPECT_EQ(s.fields["enabled"], false);
}

TEST(AutomationRules, ARecordedRunIsDueAgainOneHourLater) {
  auto s = given({{"type", "visit_reminder"}});
  // Across a day and a year boundary, at the API's precision.
  const Timestamp t = parse_rfc3339("2026-12-31T23:30:00.250Z").value();
  auto r = rules::record_run(s, t);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].type, rules::kRan);
  EXPECT_EQ((*r)[0].data["changes"], json({{"last_run_at", "2026-12-31T23:30:00.250Z"},
                                           {"next_run_at", "2027-01-01T00:30:00.250Z"}}));
  EXPECT_EQ((*r)[0].data["previous"],
            json({{"last_run_at", nullptr}, {"next_run_at", "2026-11-28T09:30:00.123Z"}}));
  evolve(s, (*r)[0].type, (*r)[0].data, 2);
  auto again = rules::record_run(s, t + rules::kRunInterval);
  EXPECT_EQ((*again)[0].data["previous"]["last_run_at"], "2026-12-31T23:30:00.250Z");
  EXPECT_EQ((*again)[0].data["changes"]["next_run_at"], "2027-01-01T01:30:00.250Z");
}

TEST(AutomationRules, EveryEventTypeIsInTheCatalog) {
  const auto all = catalog_event_types();
  for (const char* type : {"AutomationCreated", "AutomationUpdated", "AutomationDeleted",
                           rules::kRunRequested, rules::kRan}) {
    EXPECT_NE(std::find(all.begin(), all.end(), type), all.end()) << type;
  }
  const auto streams = catalog_stream_types();
  EXPECT_NE(std::find(streams.begin(), streams.end(), rules::kKind.stream_type), streams.end());
}

}  // namespace
}  // namespace fsm::domain

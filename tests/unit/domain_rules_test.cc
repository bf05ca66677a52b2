// Given these events, when this command, then these events / this error.
#include <gtest/gtest.h>

#include <set>

#include "domain/job.h"
#include "domain/user.h"
#include "domain/visit.h"

namespace fsm::domain {
namespace {

using nlohmann::json;

EntityState given(const std::string& aggregate, json fields,
                  std::vector<DomainEvent> later = {}) {
  EntityState s;
  evolve(s, aggregate + "Created", fields, 1);
  int v = 1;
  for (const auto& e : later) evolve(s, e.type, e.data, ++v);
  return s;
}

const std::vector<std::string> kJob = {"draft",     "quoted",    "scheduled", "in_progress",
                                       "completed", "cancelled", "invoiced"};
const std::vector<std::string> kVisit = {"scheduled", "arrived", "in_progress", "completed",
                                         "cancelled"};

// The contract's tables, written out independently of rules.cc.
const std::set<std::pair<std::string, std::string>> kJobAllowed = {
    {"draft", "quoted"},           {"draft", "scheduled"},       {"quoted", "scheduled"},
    {"quoted", "draft"},           {"scheduled", "in_progress"}, {"scheduled", "cancelled"},
    {"in_progress", "completed"},  {"in_progress", "cancelled"}, {"completed", "invoiced"},
    {"cancelled", "draft"}};
const std::set<std::pair<std::string, std::string>> kVisitAllowed = {
    {"scheduled", "arrived"},   {"scheduled", "cancelled"}, {"arrived", "in_progress"},
    {"arrived", "cancelled"},   {"in_progress", "completed"}};

TEST(JobRules, EveryPairOfStatusesIsAllowedExactlyWhenTheContractSaysSo) {
  for (const auto& from : kJob) {
    for (const auto& to : kJob) {
      auto job = given("Job", {{"status", from}, {"title", "t"}});
      auto result = job::transition(job, to, /*invoice_references_job=*/true);
      const bool want = kJobAllowed.count({from, to}) > 0;
      ASSERT_EQ(result.ok(), want) << from << " -> " << to;
      if (want) {
        ASSERT_EQ(result->size(), 1u);
        EXPECT_EQ((*result)[0].type, "JobStatusChanged");
        EXPECT_EQ((*result)[0].data["from"], from);
        EXPECT_EQ((*result)[0].data["to"], to);
        evolve(job, (*result)[0].type, (*result)[0].data, 2);
        EXPECT_EQ(job.str("status"), to);
        EXPECT_EQ(job.version, 2);
      } else {
        EXPECT_EQ(result.error().code, ErrorCode::kInvalidTransition) << from << " -> " << to;
      }
    }
  }
}

TEST(JobRules, InvoicedNeedsAnInvoiceThatReferencesTheJob) {
  auto job = given("Job", {{"status", "completed"}});
  auto refused = job::transition(job, "invoiced", false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidTransition);
  EXPECT_TRUE(job::transition(job, "invoiced", true).ok());
}

TEST(JobRules, AnUnknownStatusIsAValidationError) {
  auto job = given("Job", {{"status", "draft"}});
  auto r = job::transition(job, "teleported", false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  EXPECT_EQ(std::get<std::string>(r.error().issues[0].path[0]), "status");
}

TEST(JobRules, AnInvoicedJobIsImmutable) {
  auto job = given("Job", {{"status", "invoiced"}, {"title", "a"}});
  auto r = job::patch(job, {{"title", "b"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kImmutableEntity);
}

TEST(JobRules, APatchRecordsOnlyWhatChangesWithThePreviousValues) {
  auto job = given("Job", {{"status", "draft"}, {"title", "a"}, {"priority", "normal"}});
  auto r = job::patch(job, {{"title", "b"}, {"priority", "normal"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].type, "JobUpdated");
  EXPECT_EQ((*r)[0].data["changes"], json({{"title", "b"}}));
  EXPECT_EQ((*r)[0].data["previous"], json({{"title", "a"}}));
  EXPECT_TRUE(job::patch(job, {{"title", "a"}})->empty()) << "a no-op patch appends nothing";
}

TEST(JobRules, ScheduleEndMustFollowStartAlsoAgainstTheStoredValue) {
  auto job = given("Job", {{"status", "draft"}, {"scheduled_start", "2026-12-01T10:00:00.000Z"},
                           {"scheduled_end", nullptr}});
  auto r = job::patch(job, {{"scheduled_end", "2026-12-01T09:00:00.000Z"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  EXPECT_TRUE(job::patch(job, {{"scheduled_end", "2026-12-01T11:00:00.000Z"}}).ok());
}

TEST(JobRules, OnlyADraftJobCanBeDeleted) {
  for (const auto& status : kJob) {
    auto r = job::remove(given("Job", {{"status", status}}));
    EXPECT_EQ(r.ok(), status == "draft") << status;
    if (r.ok()) {
      EXPECT_EQ((*r)[0].type, "JobDeleted");
    }
  }
}

TEST(VisitRules, EveryPairOfStatusesIsAllowedExactlyWhenTheContractSaysSo) {
  const std::string now = "2026-11-28T09:30:00.000Z";
  for (const auto& from : kVisit) {
    for (const auto& to : kVisit) {
      auto visit = given("Visit", {{"status", from}, {"assigned_user_id", "u1"}});
      auto r = visit::transition(visit, to, nullptr, now);
      const bool want = kVisitAllowed.count({from, to}) > 0;
      ASSERT_EQ(r.ok(), want) << from << " -> " << to;
      if (!want) {
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidTransition);
      }
    }
  }
}

TEST(VisitRules, ArrivingNeedsAnAssigneeAndSetsArrivedAt) {
  const std::string now = "2026-11-28T09:30:00.000Z";
  auto unassigned = given("Visit", {{"status", "scheduled"}, {"assigned_user_id", nullptr}});
  auto refused = visit::transition(unassigned, "arrived", nullptr, now);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidTransition);

  auto visit = given("Visit", {{"status", "scheduled"}, {"assigned_user_id", "u1"}});
  auto r = visit::transition(visit, "arrived", "gate code 1234", now);
  ASSERT_TRUE(r.ok());
  evolve(visit, (*r)[0].type, (*r)[0].data, 2);
  EXPECT_EQ(visit.str("status"), "arrived");
  EXPECT_EQ(visit.str("arrived_at"), now);
  EXPECT_EQ(visit.str("tech_notes"), "gate code 1234");
}

TEST(VisitRules, CompletingSetsCompletedAt) {
  auto visit = given("Visit", {{"status", "in_progress"}, {"assigned_user_id", "u1"}});
  auto r = visit::transition(visit, "completed", nullptr, "2026-11-28T10:00:00.000Z");
  ASSERT_TRUE(r.ok());
  evolve(visit, (*r)[0].type, (*r)[0].data, 2);
  EXPECT_EQ(visit.str("completed_at"), "2026-11-28T10:00:00.000Z");
}

TEST(VisitRules, AFinishedVisitOnlyTakesNotes) {
  auto visit = given("Visit", {{"status", "completed"}, {"tech_notes", nullptr}});
  EXPECT_TRUE(visit::patch(visit, {{"tech_notes", "left spare filter"}}, "admin").ok());
  auto r = visit::patch(visit, {{"scheduled_start", "2026-12-01T10:00:00.000Z"}}, "admin");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kImmutableEntity);
}

TEST(UserRules, AdminsMayNotTouchTheOwnerAndNobodyRemovesIt) {
  auto owner = given("User", {{"role", "owner"}, {"full_name", "O"}});
  auto by_admin = user::patch(owner, {{"full_name", "X"}}, "admin");
  ASSERT_FALSE(by_admin.ok());
  EXPECT_EQ(by_admin.error().code, ErrorCode::kForbidden);
  EXPECT_TRUE(user::patch(owner, {{"full_name", "X"}}, "owner").ok());
  EXPECT_FALSE(user::patch(owner, {{"role", "admin"}}, "owner").ok());
  auto removal = user::remove(owner, "someone", "owner-id");
  ASSERT_FALSE(removal.ok());
  EXPECT_EQ(removal.error().code, ErrorCode::kForbidden);
}

TEST(UserRules, ThePasswordNeverEntersAnEvent) {
  auto tech = given("User", {{"role", "tech"}, {"full_name", "T"}});
  auto r = user::patch(tech, {{"password", "new secret 123"}, {"full_name", "T2"}}, "owner");
  ASSERT_TRUE(r.ok());
  // The name change, then the fact that the password changed: no secret in either.
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].type, "UserUpdated");
  EXPECT_EQ((*r)[1].type, "UserPasswordChanged");
  for (const auto& e : *r) EXPECT_EQ(e.data.dump().find("secret"), std::string::npos);
  auto only_password = user::patch(tech, {{"password", "new secret 123"}}, "owner");
  ASSERT_TRUE(only_password.ok());
  ASSERT_EQ(only_password->size(), 1u);
  EXPECT_EQ((*only_password)[0].type, "UserPasswordChanged");
}

TEST(Validation, ReportsEveryProblemWithItsPath) {
  auto r = validate_body({{"title", 5}, {"bogus", 1}, {"priority", "meh"}}, job::create_fields(),
                         Mode::kCreate);
  ASSERT_FALSE(r.ok());
  std::set<std::string> paths;
  for (const auto& i : r.error().issues) paths.insert(std::get<std::string>(i.path[0]));
  EXPECT_EQ(paths, (std::set<std::string>{"title", "bogus", "priority", "client_id"}));
}

TEST(Validation, NormalisesAndFillsAbsentOptionalFields) {
  auto r = validate_body({{"client_id", "0189D6F2-8A3B-7C4D-9E5F-0A1B2C3D4E5F"},
                          {"title", "  Fix boiler  "},
                          {"scheduled_start", "2026-12-01T11:00:00+01:00"}},
                         job::create_fields(), Mode::kCreate);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["client_id"], "0189d6f2-8a3b-7c4d-9e5f-0a1b2c3d4e5f");
  EXPECT_EQ((*r)["title"], "Fix boiler");
  EXPECT_EQ((*r)["scheduled_start"], "2026-12-01T10:00:00.000Z");
  EXPECT_TRUE((*r)["description"].is_null());
  EXPECT_TRUE((*r)["priority"].is_null());
}

TEST(Validation, PatchRefusesNullForRequiredFieldsAndEmptyBodies) {
  EXPECT_FALSE(validate_body({{"title", nullptr}}, job::patch_fields(), Mode::kPatch).ok());
  EXPECT_TRUE(validate_body({{"description", nullptr}}, job::patch_fields(), Mode::kPatch).ok());
  EXPECT_FALSE(validate_body(json::object(), job::patch_fields(), Mode::kPatch).ok());
  EXPECT_FALSE(validate_body({{"client_id", "0189d6f2-8a3b-7c4d-9e5f-0a1b2c3d4e5f"}},
                             job::patch_fields(), Mode::kPatch)
                   .ok());
}

TEST(Validation, BodiesThatAreNotJsonObjectsAreRefused) {
  for (const char* bad : {"", "nul", "[1,2]", "\"s\"", "{\"a\":", "42"}) {
    auto r = parse_json_object(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  }
}

// One JSON value and nothing after it: a NUL ended nlohmann's input early,
// so "{}\0junk" was read as "{}".
TEST(Validation, BytesAfterTheValueAreRefused) {
  using namespace std::string_literals;
  for (const std::string& bad : {"{\"a\":1}\0"s, "{\"a\":1}\0junk"s, "{\"a\":1} \0 "s,
                                 "{\"a\":\"x\0y\"}"s, "{\"a\":1}x"s, "{\"a\":1}{}"s}) {
    auto r = parse_json_object(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  }
  EXPECT_TRUE(parse_json_object("{\"a\":1} \r\n\t").ok());
}

// A key twice in one object, at any depth, is refused with its path.
TEST(Validation, DuplicateKeysAreRefusedWithTheirPath) {
  const std::vector<std::pair<std::string, std::vector<PathElement>>> cases = {
      {R"({"name":"a","name":"b"})", {std::string("name")}},
      {R"({"name":"a","x":1,"name":"a"})", {std::string("name")}},
      {R"({"o":{"k":1,"k":2}})", {std::string("o"), std::string("k")}},
      {R"({"l":[1,{"a":1},{"q":1.5,"q":2}]})",
       {std::string("l"), std::int64_t{2}, std::string("q")}},
      {R"({"l":[[{"a":[]}],{"b":{"c":0,"c":{}}}]})",
       {std::string("l"), std::int64_t{1}, std::string("b"), std::string("c")}},
  };
  for (const auto& [text, path] : cases) {
    auto r = parse_json_object(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kValidation);
    ASSERT_EQ(r.error().issues.size(), 1u) << text;
    EXPECT_EQ(r.error().issues[0].path, path) << text;
    EXPECT_EQ(r.error().issues[0].message, "duplicate key") << text;
  }
  // The same key in sibling objects, and decimals (kept as objects), are fine.
  auto ok = parse_json_object(R"({"l":[{"q":1.5},{"q":2.25}],"o":{"q":1},"q":0.5})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(decimal_text((*ok)["l"][1]["q"]), "2.25");
}

TEST(Validation, EmailsAndPasswords) {
  EXPECT_TRUE(validate_body({{"email", "Ann@Example.COM"},
                             {"full_name", "Ann"},
                             {"role", "tech"},
                             {"password", "long enough"}},
                            user::create_fields(), Mode::kCreate)
                  .ok());
  for (const char* bad : {"ann", "ann@", "@x.io", "a@b", "a b@c.io", "a@@c.io"}) {
    EXPECT_FALSE(validate_body({{"email", bad}}, user::patch_fields(), Mode::kPatch).ok()) << bad;
  }
  EXPECT_FALSE(validate_body({{"password", "short"}}, user::patch_fields(), Mode::kPatch).ok());
  EXPECT_FALSE(validate_body({{"role", "owner"}}, user::patch_fields(), Mode::kPatch).ok());
}

}  // namespace
}  // namespace fsm::domain

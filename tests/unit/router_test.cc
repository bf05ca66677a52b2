#include "http/router.h"

#include <gtest/gtest.h>

namespace fsm::http {
namespace {

Handler named(std::string name) {
  return [name](const Request&) { return Response::json(200, {{"route", name}}); };
}

TEST(Router, MatchesLiteralAndParameterSegments) {
  Router r;
  r.add(Method::kGet, "/api/v1/jobs", named("list"));
  r.add(Method::kGet, "/api/v1/jobs/:id", named("get"));
  r.add(Method::kPost, "/api/v1/jobs/:id/transition", named("transition"));

  auto m = r.match(Method::kGet, "/api/v1/jobs/abc");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ((*m.handler)(Request{})->body["route"], "get");
  EXPECT_EQ(m.params.at("id"), "abc");

  m = r.match(Method::kPost, "/api/v1/jobs/xyz/transition");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params.at("id"), "xyz");
}

TEST(Router, UnknownPathHasNoHandlerAndNoAllowedMethods) {
  Router r;
  r.add(Method::kGet, "/api/v1/jobs", named("list"));
  auto m = r.match(Method::kGet, "/api/v1/nope");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.allowed.empty());
  EXPECT_EQ(r.match(Method::kGet, "/api/v1/jobs/1/2").handler, nullptr);
}

TEST(Router, KnownPathWithOtherMethodListsAllowedMethods) {
  Router r;
  r.add(Method::kGet, "/api/v1/jobs/:id", named("get"));
  r.add(Method::kPatch, "/api/v1/jobs/:id", named("patch"));
  auto m = r.match(Method::kPost, "/api/v1/jobs/1");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allowed, (std::vector<Method>{Method::kGet, Method::kPatch}));
}

TEST(Router, ToleratesRepeatedAndTrailingSlashes) {
  Router r;
  r.add(Method::kGet, "/api/health", named("health"));
  EXPECT_NE(r.match(Method::kGet, "/api/health/").handler, nullptr);
  EXPECT_NE(r.match(Method::kGet, "//api//health").handler, nullptr);
}

TEST(Router, LiteralRouteRegisteredFirstWinsOverParameter) {
  Router r;
  r.add(Method::kGet, "/api/v1/visits/mine", named("mine"));
  r.add(Method::kGet, "/api/v1/visits/:id", named("get"));
  auto m = r.match(Method::kGet, "/api/v1/visits/mine");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ((*m.handler)(Request{})->body["route"], "mine");
}

}  // namespace
}  // namespace fsm::http

// The contract's errors: every code, the domain's and the transport's, has
// its status and name, and every error body its shape and trace id.
#include <gtest/gtest.h>

#include <set>

#include "http/types.h"

namespace fsm::http {
namespace {

TEST(ErrorModel, ValidationErrorListsEachIssueWithItsPath) {
  auto err = Error::validation(
      {{{"line_items", std::int64_t{0}, "quantity"}, "must be > 0"}, {{"title"}, "is required"}});
  auto res = error_response(err, "trace-1");
  EXPECT_EQ(res.status, 400);
  const auto& e = res.body["error"];
  EXPECT_EQ(e["code"], "VALIDATION_ERROR");
  EXPECT_EQ(e["traceId"], "trace-1");
  ASSERT_EQ(e["details"]["issues"].size(), 2u);
  EXPECT_EQ(e["details"]["issues"][0]["path"],
            nlohmann::json::parse(R"(["line_items",0,"quantity"])"));
  EXPECT_EQ(e["details"]["issues"][0]["message"], "must be > 0");
}

TEST(ErrorModel, ConflictCarriesVersions) {
  Error err = Error::of(ErrorCode::kConflict, "version mismatch");
  err.expected_version = 3;
  err.actual_version = 4;
  auto res = error_response(err, "t");
  EXPECT_EQ(res.status, 409);
  EXPECT_EQ(res.body["error"]["details"]["expected_version"], 3);
  EXPECT_EQ(res.body["error"]["details"]["actual_version"], 4);
}

// API.md, "Errors".
const std::vector<std::tuple<ErrorCode, int, std::string>> kDomainCodes = {
    {ErrorCode::kValidation, 400, "VALIDATION_ERROR"},
    {ErrorCode::kInvalidTransition, 400, "INVALID_TRANSITION"},
    {ErrorCode::kUnauthorized, 401, "UNAUTHORIZED"},
    {ErrorCode::kInvalidCredentials, 401, "INVALID_CREDENTIALS"},
    {ErrorCode::kForbidden, 403, "FORBIDDEN"},
    {ErrorCode::kNotFound, 404, "NOT_FOUND"},
    {ErrorCode::kConflict, 409, "CONFLICT"},
    {ErrorCode::kImmutableEntity, 422, "IMMUTABLE_ENTITY"},
    {ErrorCode::kIdempotencyKeyReused, 422, "IDEMPOTENCY_KEY_REUSED"},
    {ErrorCode::kRateLimited, 429, "RATE_LIMITED"},
    {ErrorCode::kInternal, 500, "INTERNAL_ERROR"},
    {ErrorCode::kUnavailable, 503, "SERVICE_UNAVAILABLE"},
};
const std::vector<std::tuple<TransportCode, int, std::string>> kTransportCodes = {
    {TransportCode::kMethodNotAllowed, 405, "METHOD_NOT_ALLOWED"},
    {TransportCode::kPayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"},
    {TransportCode::kUnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"},
    {TransportCode::kHeadersTooLarge, 431, "HEADERS_TOO_LARGE"},
};

TEST(ErrorModel, EveryDomainCodeHasTheContractsStatusAndName) {
  for (const auto& [code, status, name] : kDomainCodes) {
    EXPECT_EQ(contract_code(code).status, status) << name;
    EXPECT_EQ(contract_code(code).name, name);
    const auto res = error_response(Error::of(code, "m"), "t");
    EXPECT_EQ(res.status, status);
    EXPECT_EQ(res.body["error"]["code"], name);
  }
}

TEST(ErrorModel, EveryTransportCodeHasTheContractsStatusAndName) {
  for (const auto& [code, status, name] : kTransportCodes) {
    EXPECT_EQ(contract_code(code).status, status) << name;
    EXPECT_EQ(contract_code(code).name, name);
  }
}

TEST(ErrorModel, NoTwoCodesShareAName) {
  std::set<std::string> names;
  for (const auto& [code, status, name] : kDomainCodes) names.insert(name);
  for (const auto& [code, status, name] : kTransportCodes) names.insert(name);
  EXPECT_EQ(names.size(), kDomainCodes.size() + kTransportCodes.size());
}

TEST(ErrorModel, ARefusalHasTheSameBodyShape) {
  auto res = error_response(Refusal{TransportCode::kPayloadTooLarge, "body over the size limit"},
                            "trace-2");
  EXPECT_EQ(res.status, 413);
  EXPECT_EQ(res.body, nlohmann::json::parse(R"({"error": {"code": "PAYLOAD_TOO_LARGE",
      "message": "body over the size limit", "traceId": "trace-2"}})"));
}

TEST(ErrorModel, AHandlersErrorBecomesItsBodyWithTheTraceId) {
  Error err = Error::of(ErrorCode::kConflict, "version mismatch");
  err.expected_version = 1;
  err.actual_version = 2;
  EXPECT_EQ(to_response(err, "trace-3").body, error_response(err, "trace-3").body);
  EXPECT_EQ(to_response(err, "trace-3").status, 409);
  const auto ok = to_response(Response::json(201, {{"id", "x"}}), "trace-3");
  EXPECT_EQ(ok.status, 201);
  EXPECT_EQ(ok.body, nlohmann::json({{"id", "x"}}));
}

TEST(ErrorModel, PlainErrorsHaveNoDetails) {
  auto res = error_response(Error::of(ErrorCode::kNotFound, "no such job"), "t");
  EXPECT_FALSE(res.body["error"].contains("details"));
  EXPECT_EQ(res.body["error"]["message"], "no such job");
}

}  // namespace
}  // namespace fsm::http

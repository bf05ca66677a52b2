#include <gtest/gtest.h>

#include "http/types.h"

namespace fsm::http {
namespace {

TEST(ErrorModel, ValidationErrorListsEachIssueWithItsPath) {
  auto err = Error::validation({{{"line_items", std::int64_t{0}, "quantity"}, "must be > 0"},
                                {{"title"}, "is required"}});
  auto res = error_response(err, "trace-1");
  EXPECT_EQ(res.status, 400);
  const auto& e = res.body["error"];
  EXPECT_EQ(e["code"], "VALIDATION_ERROR");
  EXPECT_EQ(e["traceId"], "trace-1");
  ASSERT_EQ(e["details"]["issues"].size(), 2u);
  EXPECT_EQ(e["details"]["issues"][0]["path"], nlohmann::json::parse(R"(["line_items",0,"quantity"])"));
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

TEST(ErrorModel, EveryCodeMapsToTheContractsStatus) {
  const std::vector<std::tuple<ErrorCode, int, std::string>> table = {
      {ErrorCode::kValidation, 400, "VALIDATION_ERROR"},
      {ErrorCode::kInvalidTransition, 400, "INVALID_TRANSITION"},
      {ErrorCode::kUnauthorized, 401, "UNAUTHORIZED"},
      {ErrorCode::kInvalidCredentials, 401, "INVALID_CREDENTIALS"},
      {ErrorCode::kForbidden, 403, "FORBIDDEN"},
      {ErrorCode::kNotFound, 404, "NOT_FOUND"},
      {ErrorCode::kMethodNotAllowed, 405, "METHOD_NOT_ALLOWED"},
      {ErrorCode::kConflict, 409, "CONFLICT"},
      {ErrorCode::kPayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"},
      {ErrorCode::kUnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"},
      {ErrorCode::kHeadersTooLarge, 431, "HEADERS_TOO_LARGE"},
      {ErrorCode::kImmutableEntity, 422, "IMMUTABLE_ENTITY"},
      {ErrorCode::kIdempotencyKeyReused, 422, "IDEMPOTENCY_KEY_REUSED"},
      {ErrorCode::kRateLimited, 429, "RATE_LIMITED"},
      {ErrorCode::kInternal, 500, "INTERNAL_ERROR"},
      {ErrorCode::kUnavailable, 503, "SERVICE_UNAVAILABLE"},
  };
  for (const auto& [code, status, name] : table) {
    EXPECT_EQ(http_status(code), status) << name;
    EXPECT_EQ(error_code_name(code), name);
  }
}

TEST(ErrorModel, PlainErrorsHaveNoDetails) {
  auto res = error_response(Error::of(ErrorCode::kNotFound, "no such job"), "t");
  EXPECT_FALSE(res.body["error"].contains("details"));
  EXPECT_EQ(res.body["error"]["message"], "no such job");
}

}  // namespace
}  // namespace fsm::http

// Reading the Idempotency-Key header: absent, valid, malformed, or sent twice.
#include <gtest/gtest.h>

#include "http/idempotency.h"

namespace fsm::http {
namespace {

Request with_headers(std::vector<std::pair<std::string, std::string>> headers) {
  Request r;
  r.method = Method::kPost;
  r.headers = std::move(headers);
  return r;
}

TEST(IdempotencyKey, AbsentIsNoKey) {
  auto key = idempotency_key_of(with_headers({{"content-type", "application/json"}}));
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(*key);
}

TEST(IdempotencyKey, OneValidHeaderIsTheKey) {
  auto key = idempotency_key_of(with_headers({{"idempotency-key", "order-42"}}));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->value_or(""), "order-42");
}

TEST(IdempotencyKey, MalformedKeysAreValidationErrors) {
  for (const std::string& bad : {std::string(), std::string("has space"), std::string(256, 'k')}) {
    auto key = idempotency_key_of(with_headers({{"idempotency-key", bad}}));
    ASSERT_FALSE(key.ok()) << bad;
    EXPECT_EQ(key.error().code, ErrorCode::kValidation);
  }
}

// Two keys (equal or not) are refused rather than one of them picked.
TEST(IdempotencyKey, TwoHeadersAreAValidationErrorNamingTheHeader) {
  for (const auto& second : {"a", "b"}) {
    auto key = idempotency_key_of(
        with_headers({{"idempotency-key", "a"}, {"accept", "*/*"}, {"idempotency-key", second}}));
    ASSERT_FALSE(key.ok()) << second;
    EXPECT_EQ(key.error().code, ErrorCode::kValidation);
    ASSERT_EQ(key.error().issues.size(), 1u);
    EXPECT_EQ(key.error().issues[0].path,
              (std::vector<PathElement>{std::string("Idempotency-Key")}));
    const auto res = error_response(key.error(), "t");
    EXPECT_EQ(res.status, 400);
    EXPECT_EQ(res.body["error"]["code"], "VALIDATION_ERROR");
  }
}

}  // namespace
}  // namespace fsm::http

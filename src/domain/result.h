// Errors as values at the domain boundary.
//
// `Result<T>` holds either a value or an `Error`. `ErrorCode` names the contract's
// error codes; `src/http` maps each to its HTTP status in exactly one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace fsm {

enum class ErrorCode {
  kValidation,            // 400 VALIDATION_ERROR
  kInvalidTransition,     // 400 INVALID_TRANSITION
  kUnauthorized,          // 401 UNAUTHORIZED
  kInvalidCredentials,    // 401 INVALID_CREDENTIALS
  kForbidden,             // 403 FORBIDDEN
  kNotFound,              // 404 NOT_FOUND
  kMethodNotAllowed,      // 405 METHOD_NOT_ALLOWED
  kConflict,              // 409 CONFLICT
  kPayloadTooLarge,       // 413 PAYLOAD_TOO_LARGE
  kHeadersTooLarge,       // 431 HEADERS_TOO_LARGE
  kUnsupportedMediaType,  // 415 UNSUPPORTED_MEDIA_TYPE
  kImmutableEntity,       // 422 IMMUTABLE_ENTITY
  kIdempotencyKeyReused,  // 422 IDEMPOTENCY_KEY_REUSED
  kRateLimited,           // 429 RATE_LIMITED
  kInternal,              // 500 INTERNAL_ERROR
  kUnavailable,           // 503 SERVICE_UNAVAILABLE (database down)
};

// One element of a JSON path: an object key or an array index.
using PathElement = std::variant<std::string, std::int64_t>;

struct Issue {
  std::vector<PathElement> path;
  std::string message;
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::vector<Issue> issues;                 // VALIDATION_ERROR details
  std::optional<std::int64_t> expected_version;  // CONFLICT details
  std::optional<std::int64_t> actual_version;

  static Error validation(std::vector<Issue> issues, std::string message = "validation failed") {
    return Error{ErrorCode::kValidation, std::move(message), std::move(issues), {}, {}};
  }
  static Error of(ErrorCode code, std::string message) {
    return Error{code, std::move(message), {}, {}, {}};
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace fsm

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

// What went wrong, in the contract's terms. Refusals that only HTTP has (a
// method not allowed, a body or head too large, a body not JSON) are not
// here: src/http/errors.h has them, and the one table of statuses.
enum class ErrorCode {
  kValidation,            // VALIDATION_ERROR: the request's content is wrong
  kInvalidTransition,     // INVALID_TRANSITION
  kUnauthorized,          // UNAUTHORIZED: no valid session
  kInvalidCredentials,    // INVALID_CREDENTIALS
  kForbidden,             // FORBIDDEN: the role may not do this
  kNotFound,              // NOT_FOUND (also: another tenant's entity)
  kConflict,              // CONFLICT: versions or duplicates
  kImmutableEntity,       // IMMUTABLE_ENTITY
  kIdempotencyKeyReused,  // IDEMPOTENCY_KEY_REUSED
  kRateLimited,           // RATE_LIMITED
  kInternal,              // INTERNAL_ERROR
  kUnavailable,           // SERVICE_UNAVAILABLE: the database is down
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

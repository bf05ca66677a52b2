#include "http/types.h"

#include <algorithm>

namespace fsm::http {

const char* method_name(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
    case Method::kHead:
      return "HEAD";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      break;
  }
  return "OTHER";
}

Handler refusing_query(Handler inner) {
  return [inner = std::move(inner)](const Request& req) {
    if (req.query.empty()) return inner(req);
    std::vector<Issue> issues;
    for (const auto& [key, value] : req.query) issues.push_back({{key}, "unknown query parameter"});
    return error_response(Error::validation(std::move(issues), "invalid query parameters"),
                          req.request_id);
  };
}

LoggedCaller& logged_caller() {
  thread_local LoggedCaller caller;
  return caller;
}

std::optional<std::string> Request::header(std::string_view name) const {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [k, v] : headers) {
    if (k == lower) return v;
  }
  return std::nullopt;
}

// The single place where domain error codes become HTTP statuses.
int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kValidation:
    case ErrorCode::kInvalidTransition:
      return 400;
    case ErrorCode::kUnauthorized:
    case ErrorCode::kInvalidCredentials:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kHeadersTooLarge:
      return 431;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kImmutableEntity:
    case ErrorCode::kIdempotencyKeyReused:
      return 422;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kInternal:
      return 500;
    case ErrorCode::kUnavailable:
      return 503;
  }
  return 500;
}

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kValidation:
      return "VALIDATION_ERROR";
    case ErrorCode::kInvalidTransition:
      return "INVALID_TRANSITION";
    case ErrorCode::kUnauthorized:
      return "UNAUTHORIZED";
    case ErrorCode::kInvalidCredentials:
      return "INVALID_CREDENTIALS";
    case ErrorCode::kForbidden:
      return "FORBIDDEN";
    case ErrorCode::kNotFound:
      return "NOT_FOUND";
    case ErrorCode::kMethodNotAllowed:
      return "METHOD_NOT_ALLOWED";
    case ErrorCode::kConflict:
      return "CONFLICT";
    case ErrorCode::kPayloadTooLarge:
      return "PAYLOAD_TOO_LARGE";
    case ErrorCode::kHeadersTooLarge:
      return "HEADERS_TOO_LARGE";
    case ErrorCode::kUnsupportedMediaType:
      return "UNSUPPORTED_MEDIA_TYPE";
    case ErrorCode::kImmutableEntity:
      return "IMMUTABLE_ENTITY";
    case ErrorCode::kIdempotencyKeyReused:
      return "IDEMPOTENCY_KEY_REUSED";
    case ErrorCode::kRateLimited:
      return "RATE_LIMITED";
    case ErrorCode::kInternal:
      return "INTERNAL_ERROR";
    case ErrorCode::kUnavailable:
      return "SERVICE_UNAVAILABLE";
  }
  return "INTERNAL_ERROR";
}

Response error_response(const Error& error, const std::string& trace_id) {
  nlohmann::json err = {{"code", error_code_name(error.code)},
                        {"message", error.message},
                        {"traceId", trace_id}};
  nlohmann::json details = nlohmann::json::object();
  if (!error.issues.empty()) {
    nlohmann::json issues = nlohmann::json::array();
    for (const auto& issue : error.issues) {
      nlohmann::json path = nlohmann::json::array();
      for (const auto& el : issue.path) {
        std::visit([&path](const auto& v) { path.push_back(v); }, el);
      }
      issues.push_back({{"path", path}, {"message", issue.message}});
    }
    details["issues"] = issues;
  }
  if (error.expected_version) details["expected_version"] = *error.expected_version;
  if (error.actual_version) details["actual_version"] = *error.actual_version;
  if (!details.empty()) err["details"] = details;
  return Response::json(http_status(error.code), {{"error", err}});
}

}  // namespace fsm::http

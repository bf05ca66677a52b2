#include "http/errors.h"

#include <nlohmann/json.hpp>

#include "http/types.h"

namespace fsm::http {
namespace {

nlohmann::json issues_json(const std::vector<Issue>& issues) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& issue : issues) {
    nlohmann::json path = nlohmann::json::array();
    for (const auto& el : issue.path) {
      std::visit([&path](const auto& v) { path.push_back(v); }, el);
    }
    out.push_back({{"path", path}, {"message", issue.message}});
  }
  return out;
}

Response error_body(ContractCode code, const std::string& message, nlohmann::json details,
                    const std::string& trace_id) {
  nlohmann::json err = {{"code", code.name}, {"message", message}, {"traceId", trace_id}};
  if (!details.empty()) err["details"] = std::move(details);
  return Response::json(code.status, {{"error", std::move(err)}});
}

}  // namespace

// The table. A switch per enum, without a default, so that a code added to
// either without its row here does not compile (-Wswitch; warnings are errors).
// clang-format off
ContractCode contract_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::kValidation:           return {400, "VALIDATION_ERROR"};
    case ErrorCode::kInvalidTransition:    return {400, "INVALID_TRANSITION"};
    case ErrorCode::kUnauthorized:         return {401, "UNAUTHORIZED"};
    case ErrorCode::kInvalidCredentials:   return {401, "INVALID_CREDENTIALS"};
    case ErrorCode::kForbidden:            return {403, "FORBIDDEN"};
    case ErrorCode::kNotFound:             return {404, "NOT_FOUND"};
    case ErrorCode::kConflict:             return {409, "CONFLICT"};
    case ErrorCode::kImmutableEntity:      return {422, "IMMUTABLE_ENTITY"};
    case ErrorCode::kIdempotencyKeyReused: return {422, "IDEMPOTENCY_KEY_REUSED"};
    case ErrorCode::kRateLimited:          return {429, "RATE_LIMITED"};
    case ErrorCode::kInternal:             return {500, "INTERNAL_ERROR"};
    case ErrorCode::kUnavailable:          return {503, "SERVICE_UNAVAILABLE"};
  }
  return {500, "INTERNAL_ERROR"};  // a value outside the enum
}

ContractCode contract_code(TransportCode code) {
  switch (code) {
    case TransportCode::kMethodNotAllowed:     return {405, "METHOD_NOT_ALLOWED"};
    case TransportCode::kPayloadTooLarge:      return {413, "PAYLOAD_TOO_LARGE"};
    case TransportCode::kUnsupportedMediaType: return {415, "UNSUPPORTED_MEDIA_TYPE"};
    case TransportCode::kHeadersTooLarge:      return {431, "HEADERS_TOO_LARGE"};
  }
  return {500, "INTERNAL_ERROR"};  // a value outside the enum
}
// clang-format on

Response error_response(const Error& error, const std::string& trace_id) {
  nlohmann::json details = nlohmann::json::object();
  if (!error.issues.empty()) details["issues"] = issues_json(error.issues);
  if (error.expected_version) details["expected_version"] = *error.expected_version;
  if (error.actual_version) details["actual_version"] = *error.actual_version;
  return error_body(contract_code(error.code), error.message, std::move(details), trace_id);
}

Response error_response(const Refusal& refusal, const std::string& trace_id) {
  return error_body(contract_code(refusal.code), refusal.message, nlohmann::json::object(),
                    trace_id);
}

Response to_response(Result<Response> result, const std::string& trace_id) {
  if (result.ok()) return std::move(result).value();
  return error_response(result.error(), trace_id);
}

}  // namespace fsm::http

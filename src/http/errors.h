// Errors as the contract writes them (API.md, "Errors"): every code an error
// body can carry, the domain's and the transport's, has its HTTP status and
// its name in one table (errors.cc), and every error body is built here.
#pragma once

#include <string>

#include "domain/result.h"

namespace fsm::http {

struct Response;

// Refusals only HTTP has: the request could not be read or routed, so no
// handler, and no rule of the domain, was involved. The domain's ErrorCode
// does not know them.
enum class TransportCode {
  kMethodNotAllowed,      // a known path, another method
  kPayloadTooLarge,       // a Content-Length over the limit
  kUnsupportedMediaType,  // a body not declared as JSON
  kHeadersTooLarge,       // a request head over the limit
};

struct Refusal {
  TransportCode code;
  std::string message;
};

// A code as it goes on the wire.
struct ContractCode {
  int status;        // the answer's HTTP status
  const char* name;  // the body's `error.code`
};
ContractCode contract_code(ErrorCode code);
ContractCode contract_code(TransportCode code);

// The contract's error body, `traceId` being the request's X-Request-Id.
// VALIDATION_ERROR lists its issues, CONFLICT its versions, in `details`.
Response error_response(const Error& error, const std::string& trace_id);
Response error_response(const Refusal& refusal, const std::string& trace_id);

// A handler's answer as sent: the response, or the error's body.
Response to_response(Result<Response> result, const std::string& trace_id);

}  // namespace fsm::http

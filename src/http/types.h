// What route handlers see and return. Independent of Pistache, so handlers can
// be unit-tested without a socket.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "domain/result.h"
#include "http/errors.h"

namespace fsm::http {

enum class Method { kGet, kPost, kPut, kPatch, kDelete, kHead, kOptions, kOther };

const char* method_name(Method m);

struct Request {
  Method method = Method::kGet;
  std::string path;
  std::map<std::string, std::string> query;   // decoded; each name at most once
  std::map<std::string, std::string> params;  // from the route pattern
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string request_id;
  std::string peer_ip;
  // Set by the Idempotency-Key handling for the request that holds the key.
  std::string idempotency_key;
  std::string idempotency_claim;

  // Case-insensitive header lookup (names are stored lower-cased).
  std::optional<std::string> header(std::string_view name) const;
};

struct Response {
  int status = 200;
  nlohmann::json body;  // null: no body (204), unless `text` holds it
  std::vector<std::pair<std::string, std::string>> headers;
  // The body already as JSON text, sent as is: rows that PostgreSQL rendered
  // as JSON are spliced, never parsed and dumped again (the read path's cost).
  std::string text;

  static Response json(int status, nlohmann::json body) {
    return {status, std::move(body), {}, {}};
  }
  // `text` must be one JSON value (the caller's promise; PostgreSQL's json output).
  static Response json_text(int status, std::string text) {
    return {status, nullptr, {}, std::move(text)};
  }
  static Response no_content() { return {204, nullptr, {}, {}}; }

  bool has_body() const { return !text.empty() || !body.is_null(); }
  // The body as sent (invalid UTF-8 in a json body replaced, never thrown on).
  std::string body_text() const;
};

// A handler answers with a Response or an Error; the server turns an Error
// into the contract's error body with the request's trace id (errors.h).
using Handler = std::function<Result<Response>(const Request&)>;

// `inner`, for a route that takes no query parameter: any one is a 400
// naming it, never silently ignored.
Handler refusing_query(Handler inner);

// Who a request acted as, for its access log line. Authentication records it
// on the thread that runs the handler; the server clears it before each
// request and reads it after.
struct LoggedCaller {
  std::string account_id;
  std::string user_id;
};
LoggedCaller& logged_caller();

}  // namespace fsm::http

#include "http/dispatch.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/log.h"
#include "common/uuid.h"
#include "events/pg_pool.h"
#include "http/request_checks.h"
#include "http/wire.h"

namespace fsm::http {
namespace {

using Clock = std::chrono::steady_clock;

Method to_method(std::string_view m) {
  if (m == "GET") return Method::kGet;
  if (m == "POST") return Method::kPost;
  if (m == "PUT") return Method::kPut;
  if (m == "PATCH") return Method::kPatch;
  if (m == "DELETE") return Method::kDelete;
  if (m == "HEAD") return Method::kHead;
  if (m == "OPTIONS") return Method::kOptions;
  return Method::kOther;
}

// A caller's X-Request-Id is kept when it is short and plain; anything else
// (empty, long, spaces, quotes, control bytes) is replaced by a fresh UUID so
// it cannot inject into logs or headers.
std::string request_id_for(const std::optional<std::string>& given) {
  if (given && !given->empty() && given->size() <= 128) {
    bool sane = true;
    for (unsigned char c : *given) {
      sane = sane && (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':');
    }
    if (sane) return *given;
  }
  return new_uuid();
}

// The query's parameters into `req.query`; the names given more than once
// are refused, each named once.
std::optional<Error> take_query(std::string_view query, Request& req) {
  std::vector<Issue> repeated;
  for (auto& [name, value] : parse_query(query)) {
    if (req.query.count(name) == 0) {
      req.query.emplace(std::move(name), std::move(value));
    } else if (std::none_of(repeated.begin(), repeated.end(), [&](const Issue& i) {
                 return std::get<std::string>(i.path.front()) == name;
               })) {
      repeated.push_back({{name}, "given more than once"});
    }
  }
  if (repeated.empty()) return std::nullopt;
  return Error::validation(std::move(repeated), "invalid query parameters");
}

// No route for the method: 404 when the path has none at all, else 405
// with the methods it has.
Response no_route(const Router::Match& match, const std::string& trace_id) {
  if (match.allowed.empty()) {
    return error_response(Error::of(ErrorCode::kNotFound, "no such route"), trace_id);
  }
  std::string allow;
  for (auto m : match.allowed) allow += std::string(allow.empty() ? "" : ", ") + method_name(m);
  auto res =
      error_response(Refusal{TransportCode::kMethodNotAllowed, "method not allowed"}, trace_id);
  res.headers.emplace_back("Allow", allow);
  return res;
}

Response frame_refusal(const Frame& frame, const std::string& trace_id) {
  switch (frame.status) {
    case 413:
      return error_response(Refusal{TransportCode::kPayloadTooLarge, frame.why}, trace_id);
    case 431:
      return error_response(Refusal{TransportCode::kHeadersTooLarge, frame.why}, trace_id);
    default:
      return error_response(Error::of(ErrorCode::kValidation, frame.why), trace_id);
  }
}

// The handler's result; an exception becomes an Error, its details logged.
Result<Response> run_handler(const Work& w) {
  try {
    return (*w.handler)(w.req);
  } catch (const events::DbUnavailable& e) {
    log::warn("database unavailable", {{"error", e.what()}, {"path", w.req.path}},
              w.req.request_id);
    return Error::of(ErrorCode::kUnavailable, "the database is unavailable; retry shortly");
  } catch (const std::exception& e) {
    log::error("unhandled error", {{"error", e.what()}, {"path", w.req.path}}, w.req.request_id);
  } catch (...) {
    log::error("unhandled non-standard exception", {{"path", w.req.path}}, w.req.request_id);
  }
  return Error::of(ErrorCode::kInternal, "internal error");
}

// The query string with the values of secret-looking parameters replaced.
std::string loggable_query(const std::map<std::string, std::string>& query) {
  std::string out;
  for (const auto& [name, value] : query) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const bool secret =
        lower.find("token") != std::string::npos || lower.find("password") != std::string::npos ||
        lower.find("secret") != std::string::npos || lower.find("key") != std::string::npos;
    if (!out.empty()) out += '&';
    out += name + "=" + (secret ? std::string("[redacted]") : value);
  }
  return out;
}

// The access log line: enough to tell requests apart with jq (the runbook's
// filters), never a secret.
void log_request(const Work& w, const Response& res) {
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - w.started).count();
  nlohmann::json fields = {{"method", method_name(w.req.method)},
                           {"path", w.req.path},
                           {"status", res.status},
                           {"duration_ms", std::round(ms * 1000.0) / 1000.0},
                           {"ip", w.req.peer_ip}};
  if (!w.req.query.empty()) fields["query"] = loggable_query(w.req.query);
  if (res.status >= 400 && res.body.is_object() && res.body.contains("error")) {
    fields["code"] = res.body["error"].value("code", "");
  }
  const LoggedCaller& caller = logged_caller();
  if (!caller.account_id.empty()) fields["account_id"] = caller.account_id;
  if (!caller.user_id.empty()) fields["user_id"] = caller.user_id;
  log::info("request", fields, w.req.request_id);
}

}  // namespace

Dispatch::Dispatch(const Router& router, const std::atomic<bool>& draining)
    : router_(router), draining_(draining) {}

Work Dispatch::route(RequestHead head, std::string body, const std::string& peer_ip) const {
  Work w;
  w.started = Clock::now();
  w.minor_version = head.minor_version;
  w.close = head.close;
  Request& r = w.req;
  r.method = to_method(head.method);
  r.path = std::move(head.path);
  r.headers = std::move(head.headers);
  r.body = std::move(body);
  r.request_id = request_id_for(r.header("x-request-id"));
  r.peer_ip = peer_ip;
  if (auto refused = take_query(head.query, r)) {
    w.early = error_response(*refused, r.request_id);
    return w;
  }
  auto match = router_.match(r.method, r.path);
  if (!match.handler) {
    w.early = no_route(match, r.request_id);
    return w;
  }
  if (auto refused = check_media_type(r)) {
    w.early = error_response(*refused, r.request_id);
    return w;
  }
  r.params = std::move(match.params);
  w.handler = match.handler;
  w.lane = match.lane;
  return w;
}

Work Dispatch::refuse(const Frame& frame, const std::string& peer_ip) {
  Work w;
  w.started = Clock::now();
  w.req.method = Method::kOther;
  w.req.path = "(unreadable request)";
  w.req.request_id = new_uuid();
  w.req.peer_ip = peer_ip;
  w.early = frame_refusal(frame, w.req.request_id);
  w.close = true;
  return w;
}

Response Dispatch::respond(const Work& w) {
  if (w.early) return *w.early;
  Result<Response> result = run_handler(w);
  // PgPool reconnects by itself: a retry soon may well succeed.
  const bool retry = !result.ok() && result.error().code == ErrorCode::kUnavailable;
  Response res = to_response(std::move(result), w.req.request_id);
  if (retry) res.headers.emplace_back("Retry-After", "2");
  return res;
}

std::string Dispatch::answer(const Work& w, bool& close) const {
  logged_caller() = {};
  const Response res = respond(w);
  close = close || draining_.load();
  log_request(w, res);
  return serialize_answer(res, w.req.request_id,
                          {w.minor_version, w.req.method == Method::kHead, close});
}

}  // namespace fsm::http

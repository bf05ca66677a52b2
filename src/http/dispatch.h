// From a request read off a connection to its answer's bytes: the route and
// the lane it runs on, the answers given before any handler runs (a query
// parameter given twice, no such route, a method not allowed, a body that is
// not JSON, a request that could not be read), the handler's run with every
// exception caught, and the access log line. No I/O but the log.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "http/framing.h"
#include "http/router.h"
#include "http/types.h"

namespace fsm::http {

// One request, read and routed, waiting for its turn on its connection.
struct Work {
  Request req;
  const Handler* handler = nullptr;  // null: `early` is the answer
  std::optional<Response> early;
  Lane lane = Lane::kInline;  // early answers are given inline
  int minor_version = 1;      // HTTP/1.<minor>
  bool close = false;         // the connection ends after this answer
  std::chrono::steady_clock::time_point started;
};

class Dispatch {
 public:
  // Once `draining` is set, every answer closes its connection.
  Dispatch(const Router& router, const std::atomic<bool>& draining);

  // A request read whole: routed to its handler and lane, or with its early
  // answer. Its X-Request-Id is the caller's when that is 1-128 characters of
  // [A-Za-z0-9._:-], else a fresh UUID.
  Work route(RequestHead head, std::string body, const std::string& peer_ip) const;

  // A request that could not be read (`frame` is kInvalid): its 400, 413 or
  // 431, after which the connection closes.
  static Work refuse(const Frame& frame, const std::string& peer_ip);

  // The request's answer: the early one, or the handler's, an Error being
  // turned into its error body with the request's trace id. An exception is
  // a 500 (a 503 with Retry-After when the database is unreachable) whose
  // body says nothing of it; the log has the details.
  static Response respond(const Work& w);

  // Runs the request, writes its access log line, and returns its answer's
  // bytes. Sets `close` once draining began: a request in flight then must
  // not leave its connection open.
  std::string answer(const Work& w, bool& close) const;

 private:
  const Router& router_;
  const std::atomic<bool>& draining_;
};

}  // namespace fsm::http

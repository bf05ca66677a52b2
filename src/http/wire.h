// An answer as bytes on the wire (RFC 9112): its status line, headers and
// body. Pure and unit-tested (wire_test); what a client may rely on:
//
// - the status line has the request's version, HTTP/1.0 or HTTP/1.1;
// - `Connection: Close` when the connection ends after this answer, and
//   otherwise `Connection: Keep-Alive`, which an HTTP/1.0 client needs to
//   keep it open (and which Pistache wrote too);
// - then X-Request-Id, then the response's headers in their order; CR and LF
//   are dropped from names and values, so none can end its line early and
//   add a header or a body of its own;
// - a body (`Response::body` not null) is JSON, with `Content-Type:
//   application/json; charset=utf-8` and its exact Content-Length; a string
//   that is not UTF-8 is written with U+FFFD in place of its bad bytes, never
//   refused; a null body is `Content-Length: 0`;
// - the answer to HEAD has the headers of the GET answer, Content-Length
//   included, and no body;
// - 204 and 304 have no body, no Content-Type and no Content-Length.
#pragma once

#include <string>

#include "http/types.h"

namespace fsm::http {

// How the request being answered was asked.
struct WireOptions {
  int minor_version = 1;  // HTTP/1.<minor>
  bool head = false;      // the request was HEAD
  bool close = false;     // the connection ends after this answer
};

std::string serialize_answer(const Response& response, const std::string& request_id,
                             const WireOptions& options);

}  // namespace fsm::http

// Checks a request must pass before its handler runs. Pure functions over a
// Request: no I/O, no configuration read here, so each rule is unit-tested
// on its own (tests/unit/request_checks_test.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/result.h"
#include "http/errors.h"
#include "http/types.h"

namespace fsm::http {

// POST, PUT, PATCH and DELETE: the methods that change something.
bool is_unsafe(Method method);

// A body sent with POST, PUT, PATCH or DELETE must be declared as
// `application/json`, optionally with `; charset=utf-8` (media type, parameter
// name and charset compared case-insensitively). Anything else, including no
// Content-Type at all, is 415 UNSUPPORTED_MEDIA_TYPE. A request without a body
// passes. Besides the contract, this is what keeps a cross-site HTML form or a
// `text/plain` fetch (which browsers send without a CORS preflight) out.
std::optional<Refusal> check_media_type(const Request& req);

// Origins allowed to send cookie-authenticated unsafe requests, parsed from a
// comma-separated list of `scheme://host[:port]` (FSM_ALLOWED_ORIGINS).
// Entries are trimmed and lower-cased; an entry that is not an http(s) origin
// (a path, a trailing slash, a wildcard, `null`) throws std::invalid_argument
// naming it. An empty list is allowed: then only `Sec-Fetch-Site: same-origin`
// vouches for a cookie request.
std::vector<std::string> parse_allowed_origins(std::string_view list);

// Cross-site request forgery defence for a request authenticated by the
// `fsm_session` cookie (the caller decides that; Bearer requests are never
// checked: a browser does not attach them by itself). For an unsafe method the
// request must carry an `Origin` equal to one of `allowed` (ASCII
// case-insensitive), or `Sec-Fetch-Site: same-origin`. A request with neither
// header is refused too: every current browser sends one of them on a
// cross-site POST, so their absence means a non-browser client, which should
// use Authorization: Bearer. Refusals are 403 FORBIDDEN. Safe methods pass.
std::optional<Error> check_cookie_origin(const Request& req,
                                         const std::vector<std::string>& allowed);

}  // namespace fsm::http

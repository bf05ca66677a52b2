#include "http/request_checks.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace fsm::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `application/json`, or `application/json; charset=utf-8` (the value may be
// quoted). Any other parameter, or a second one, is not what we accept.
bool is_json_media_type(std::string_view value) {
  const auto semicolon = value.find(';');
  if (lower(trim(value.substr(0, semicolon))) != "application/json") return false;
  if (semicolon == std::string_view::npos) return true;
  std::string_view param = trim(value.substr(semicolon + 1));
  if (param.find(';') != std::string_view::npos) return false;
  const auto eq = param.find('=');
  if (eq == std::string_view::npos || lower(trim(param.substr(0, eq))) != "charset") return false;
  std::string_view charset = trim(param.substr(eq + 1));
  if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
    charset = charset.substr(1, charset.size() - 2);
  }
  return lower(charset) == "utf-8";
}

// `http(s)://host[:port]`, nothing more: what a browser puts in `Origin`.
bool is_origin(std::string_view o) {
  std::string_view rest;
  if (o.rfind("https://", 0) == 0) {
    rest = o.substr(8);
  } else if (o.rfind("http://", 0) == 0) {
    rest = o.substr(7);
  } else {
    return false;
  }
  std::string_view host, after;
  if (!rest.empty() && rest.front() == '[') {  // an IPv6 literal
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    host = rest.substr(1, close - 1);
    after = rest.substr(close + 1);
    if (!std::all_of(host.begin(), host.end(),
                     [](unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; })) {
      return false;
    }
  } else {
    const auto colon = rest.find(':');
    host = rest.substr(0, colon);
    after = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '-' || c == '.';
        })) {
      return false;
    }
  }
  if (after.empty()) return true;
  const std::string_view port = after.substr(1);
  return after.front() == ':' && !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

bool is_unsafe(Method method) {
  return method == Method::kPost || method == Method::kPut || method == Method::kPatch ||
         method == Method::kDelete;
}

std::optional<Refusal> check_media_type(const Request& req) {
  if (!is_unsafe(req.method) || req.body.empty()) return std::nullopt;
  const auto type = req.header("content-type");
  if (type && is_json_media_type(*type)) return std::nullopt;
  return Refusal{TransportCode::kUnsupportedMediaType,
                 "the request body must be JSON (Content-Type: application/json)"};
}

std::vector<std::string> parse_allowed_origins(std::string_view list) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    const std::string_view entry = trim(list.substr(pos, comma - pos));
    pos = comma + 1;
    if (entry.empty()) continue;
    std::string origin = lower(entry);
    if (!is_origin(origin)) {
      throw std::invalid_argument("'" + std::string(entry) +
                                  "' is not an origin (scheme://host[:port], no path)");
    }
    out.push_back(std::move(origin));
  }
  return out;
}

std::optional<Error> check_cookie_origin(const Request& req,
                                         const std::vector<std::string>& allowed) {
  if (!is_unsafe(req.method)) return std::nullopt;
  const auto origin = req.header("origin");
  if (origin && std::find(allowed.begin(), allowed.end(), lower(trim(*origin))) != allowed.end()) {
    return std::nullopt;
  }
  const auto site = req.header("sec-fetch-site");
  if (site && lower(trim(*site)) == "same-origin") return std::nullopt;
  if (!origin && !site) {
    return Error::of(ErrorCode::kForbidden,
                     "a cookie-authenticated request that changes something must carry an "
                     "allowed Origin; non-browser clients use Authorization: Bearer");
  }
  return Error::of(ErrorCode::kForbidden,
                   "cross-site request refused: this Origin may not use the session cookie");
}

}  // namespace fsm::http

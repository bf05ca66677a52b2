#include "http/wire.h"

#include <string_view>

namespace fsm::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

// Appends `s` without its CR and LF bytes: a line break would end the header early.
void append_line_safe(std::string& out, std::string_view s) {
  for (const char c : s) {
    if (c != '\r' && c != '\n') out += c;
  }
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  append_line_safe(out, name);
  out += ": ";
  append_line_safe(out, value);
  out += kCrlf;
}

}  // namespace

std::string serialize_answer(const Response& response, const std::string& request_id,
                             const WireOptions& options) {
  const bool bodiless = response.status == 204 || response.status == 304;
  const bool json = response.has_body() && !bodiless;
  const std::string body = json ? response.body_text() : "";
  std::string out;
  out.reserve(body.size() + 256);
  out += options.minor_version == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += reason_phrase(response.status);
  out += kCrlf;
  append_header(out, "Connection", options.close ? "Close" : "Keep-Alive");
  append_header(out, "X-Request-Id", request_id);
  for (const auto& [name, value] : response.headers) append_header(out, name, value);
  if (json) append_header(out, "Content-Type", "application/json; charset=utf-8");
  if (!bodiless) append_header(out, "Content-Length", std::to_string(body.size()));
  out += kCrlf;
  if (!options.head) out += body;
  return out;
}

}  // namespace fsm::http

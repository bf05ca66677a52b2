#include "http/framing.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace fsm::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// RFC 9110 section 5.6.2.
bool is_tchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// field-value bytes: VCHAR, obs-text, SP, HTAB (no other control byte).
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

// A header's name against a lower-case one, ignoring case (no copy).
bool is_named(std::string_view name, std::string_view lower) {
  return name.size() == lower.size() &&
         std::equal(name.begin(), name.end(), lower.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

std::string lower_case(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (is_named(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

Frame invalid(const char* why, int status = 400) {
  Frame f;
  f.kind = Frame::Kind::kInvalid;
  f.status = status;
  f.why = why;
  return f;
}

// A bare CR or LF (one not in a CRLF pair) anywhere in `s`.
bool has_bare_line_break(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] != '\n') return true;
  }
  return false;
}

// The request line: method SP request-target SP HTTP-version.
const char* parse_request_line(std::string_view line, RequestHead& head) {
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return "the request line must be: METHOD SP target SP HTTP/1.1";
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return "the method is not a token";
  if (version == "HTTP/1.1") {
    head.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    head.minor_version = 0;
  } else {
    return "HTTP/1.1 or HTTP/1.0 is expected";
  }
  // absolute-form (RFC 9112 section 3.2.2): the path is what follows the authority.
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() && is_named(target.substr(0, scheme.size()), scheme)) {
      const std::size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? "/" : target.substr(slash);
    }
  }
  if (target.empty() || target.front() != '/') return "the request target must start with '/'";
  for (const char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '#') return "the request target has a byte it may not";
  }
  const std::size_t q = target.find('?');
  head.method = std::string(method);
  head.path = std::string(target.substr(0, q));
  head.query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  return nullptr;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string form_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
               hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

}  // namespace

Frame frame_request(std::string_view input, const FrameLimits& limits) {
  // Empty lines before a request are skipped, as RFC 9112 asks.
  std::size_t start = 0;
  while (input.substr(start, 2) == kCrlf) start += 2;
  const std::string_view rest = input.substr(start);
  const std::size_t head_end = rest.find("\r\n\r\n");
  const std::string_view head_bytes =
      rest.substr(0, head_end == std::string_view::npos ? rest.size() : head_end + 2);
  if (has_bare_line_break(head_bytes)) return invalid("lines must end with CRLF");
  if (head_end == std::string_view::npos) {
    if (rest.size() > limits.max_head_bytes) return invalid("request head too large", 431);
    // A request line is known bad before its head is complete: say so now
    // rather than wait for bytes that may never come.
    const std::size_t eol = rest.find(kCrlf);
    if (eol != std::string_view::npos) {
      RequestHead probe;
      if (const char* why = parse_request_line(rest.substr(0, eol), probe)) return invalid(why);
    }
    return {};
  }
  if (head_end + 4 > limits.max_head_bytes) return invalid("request head too large", 431);

  Frame f;
  RequestHead& head = f.head;
  std::size_t line_end = rest.find(kCrlf);
  if (const char* why = parse_request_line(rest.substr(0, line_end), head)) return invalid(why);
  bool has_length = false;
  int hosts = 0;
  while (line_end < head_end) {
    const std::size_t line_start = line_end + 2;
    line_end = rest.find(kCrlf, line_start);
    const std::string_view line = rest.substr(line_start, line_end - line_start);
    if (line.front() == ' ' || line.front() == '\t') {
      return invalid("folded header lines (obs-fold) are not accepted");
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return invalid("a header line has no colon");
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return invalid("a header name is not a token (no space before ':')");
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (!is_field_value(value)) return invalid("a header value has a control byte");
    if (is_named(name, "transfer-encoding")) {
      return invalid("a body must come with Content-Length, not Transfer-Encoding");
    }
    if (is_named(name, "content-length")) {
      std::size_t n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (has_length || value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        return invalid("one Content-Length, a decimal number, is expected");
      }
      if (n > limits.max_body_bytes) return invalid("body over the size limit", 413);
      has_length = true;
      head.content_length = n;
    } else if (is_named(name, "host")) {
      ++hosts;
    } else if (is_named(name, "connection")) {
      head.close = head.close || lists_token(value, "close");
      if (head.minor_version == 0 && !lists_token(value, "keep-alive")) head.close = true;
    }
    head.headers.emplace_back(lower_case(name), std::string(value));
  }
  if (hosts > 1 || (hosts == 0 && head.minor_version == 1)) {
    return invalid("HTTP/1.1 needs exactly one Host header");
  }
  if (head.minor_version == 0 &&
      std::none_of(head.headers.begin(), head.headers.end(),
                   [](const auto& h) { return h.first == "connection"; })) {
    head.close = true;  // HTTP/1.0 without keep-alive
  }
  f.size = start + head_end + 4 + head.content_length;
  f.kind = input.size() >= f.size ? Frame::Kind::kComplete : Frame::Kind::kIncomplete;
  return f;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    if (!item.empty()) {
      const std::size_t eq = item.find('=');
      out.emplace_back(form_decode(item.substr(0, eq)),
                       eq == std::string_view::npos ? "" : form_decode(item.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace fsm::http

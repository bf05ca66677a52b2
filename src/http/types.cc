#include "http/types.h"

#include <algorithm>

namespace fsm::http {

const char* method_name(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
    case Method::kHead:
      return "HEAD";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      break;
  }
  return "OTHER";
}

Handler refusing_query(Handler inner) {
  return [inner = std::move(inner)](const Request& req) -> Result<Response> {
    if (req.query.empty()) return inner(req);
    std::vector<Issue> issues;
    for (const auto& [key, value] : req.query) issues.push_back({{key}, "unknown query parameter"});
    return Error::validation(std::move(issues), "invalid query parameters");
  };
}

std::string Response::body_text() const {
  if (!text.empty()) return text;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

LoggedCaller& logged_caller() {
  thread_local LoggedCaller caller;
  return caller;
}

std::optional<std::string> Request::header(std::string_view name) const {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [k, v] : headers) {
    if (k == lower) return v;
  }
  return std::nullopt;
}

}  // namespace fsm::http

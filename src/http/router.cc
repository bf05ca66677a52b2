#include "http/router.h"

#include <algorithm>

namespace fsm::http {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

void Router::add(Method method, std::string pattern, Handler handler, Lane lane) {
  Route r{method, {}, std::move(handler), lane};
  for (auto seg : split_path(pattern)) r.segments.emplace_back(seg);
  routes_.push_back(std::move(r));
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match m;
  const auto segs = split_path(path);
  for (const auto& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; ok && i < segs.size(); ++i) {
      const auto& want = r.segments[i];
      if (!want.empty() && want[0] == ':') {
        params.emplace(want.substr(1), std::string(segs[i]));
      } else {
        ok = want == segs[i];
      }
    }
    if (!ok) continue;
    if (std::find(m.allowed.begin(), m.allowed.end(), r.method) == m.allowed.end()) {
      m.allowed.push_back(r.method);
    }
    if (r.method == method && !m.handler) {
      m.handler = &r.handler;
      m.lane = r.lane;
      m.params = std::move(params);
    }
  }
  return m;
}

}  // namespace fsm::http

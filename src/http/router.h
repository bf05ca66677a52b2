// Method + path routing with `:param` segments.
//
// Routes are registered before the server starts and never change afterwards,
// so concurrent lookups need no locking. An unknown path is a 404; a known path
// with another method is a 405 with the allowed methods.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/types.h"

namespace fsm::http {

class Router {
 public:
  void add(Method method, std::string pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;         // null: no route for this method
    std::map<std::string, std::string> params;
    std::vector<Method> allowed;              // methods that match the path
  };

  Match match(Method method, std::string_view path) const;

 private:
  struct Route {
    Method method;
    std::vector<std::string> segments;  // ":name" is a parameter
    Handler handler;
  };
  std::vector<Route> routes_;
};

std::vector<std::string_view> split_path(std::string_view path);

}  // namespace fsm::http

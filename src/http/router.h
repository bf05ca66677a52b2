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

// Where a route's handler runs (strand.h, worker_pool.h). kWorker: the
// worker pool, which holds database connections. kSlow: a small pool of its
// own, for handlers that spend long on the CPU (login's Argon2id), so a burst
// of them never holds every worker. kInline: on the connection's I/O thread,
// for handlers that neither block nor wait (health), so they answer whatever
// the pools do.
enum class Lane { kWorker, kSlow, kInline };

class Router {
 public:
  void add(Method method, std::string pattern, Handler handler, Lane lane = Lane::kWorker);

  struct Match {
    const Handler* handler = nullptr;         // null: no route for this method
    Lane lane = Lane::kInline;                // a 404 or 405 is answered inline
    std::map<std::string, std::string> params;
    std::vector<Method> allowed;              // methods that match the path
  };

  Match match(Method method, std::string_view path) const;

 private:
  struct Route {
    Method method;
    std::vector<std::string> segments;  // ":name" is a parameter
    Handler handler;
    Lane lane;
  };
  std::vector<Route> routes_;
};

std::vector<std::string_view> split_path(std::string_view path);

}  // namespace fsm::http

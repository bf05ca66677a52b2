// The HTTP server: Pistache underneath, our own request loop on top.
//
// Why our own loop (see docs/ARCHITECTURE.md): Pistache 0.0.5 answers oversized
// or malformed requests with a plain-text body and leaves the connection in a
// bad state, and turns escaped exceptions into 500s carrying e.what(). Here
// every answer is in the contract's JSON shape, every exception is caught, the
// connection is closed after a 413 or a parse error, keep-alive is explicit,
// and in-flight requests are counted so SIGTERM can drain them. Pistache reads
// and parses; answers are written by the handler's worker (server.cc).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "http/router.h"

namespace Pistache::Http {
class Endpoint;
}

namespace fsm::http {

struct ServerConfig {
  std::string host = "0.0.0.0";
  std::uint16_t port = 3000;  // 0: pick a free port (tests)
  int threads = 2;  // Pistache reactor threads: sockets and parsing
  int workers = 4;  // handler threads: each may hold one database connection
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds drain_timeout{10000};
};

class Server {
 public:
  Server(ServerConfig config, const Router& router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on background threads; returns the bound port.
  std::uint16_t start();

  // Graceful stop: new responses close their connections, waits until the
  // in-flight requests are answered (bounded by drain_timeout), then shuts the
  // listener and reactor down. Returns the number of requests still in flight
  // when it gave up waiting (0 on a clean drain).
  int drain_and_stop();

  bool draining() const;

  struct Shared;  // state shared with the per-thread Pistache handlers

 private:
  ServerConfig config_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
};

}  // namespace fsm::http

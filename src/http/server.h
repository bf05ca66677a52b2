// The HTTP server: Pistache accepts connections and reads their bytes; the
// rest is ours (docs/ARCHITECTURE.md, "The HTTP server").
//
// - Requests are cut and parsed by framing.h, strictly, and answered in order,
//   pipelined or not, in the contract's JSON shape.
// - Handlers run off the I/O threads, on the lane their route names
//   (router.h): the worker pool, the slow pool (login), or inline (health).
// - A client that does not read its answers never holds a worker: an answer
//   that does not fit in the socket is finished by the writer thread, and the
//   connection's next request waits for it. Connections have deadlines for
//   sending a request, for reading an answer, and for idling, and a bound on
//   what they may queue; all are closed by one sweeper.
// - In-flight requests are counted, so SIGTERM drains them.
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
  int threads = 2;            // Pistache reactor threads: sockets and parsing
  int workers = 8;            // handler threads: each may hold one database connection
  int slow_workers = 2;       // handler threads for Lane::kSlow (login)
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_head_bytes = 32 * 1024;
  // Requests a connection may have waiting for their answer (pipelined);
  // one more closes it.
  std::size_t max_queued_requests = 64;
  // Connections over this many: the longest idle ones are closed.
  std::size_t max_connections = 1024;
  // Unsent answers kept for clients that read slowly, all connections
  // together; a client whose answer would pass it is disconnected.
  std::size_t max_held_output_bytes = 8 * 1024 * 1024;
  // From a request's first byte to its last.
  std::chrono::milliseconds request_timeout{10000};
  // A client that reads nothing of an answer for this long is disconnected.
  std::chrono::milliseconds write_timeout{10000};
  // A connection with nothing to send or receive for this long is closed.
  std::chrono::milliseconds idle_timeout{60000};
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

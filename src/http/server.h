// The HTTP server: Pistache accepts connections and reads their bytes; the
// rest is ours (docs/ARCHITECTURE.md, "HTTP server"), one job per file:
//
// - framing.h cuts requests out of a connection's bytes, strictly;
// - dispatch.h routes each (router.h) and runs it, in the contract's JSON
//   shape, errors included (errors.h), and writes the access log;
// - strand.h answers a connection's requests one at a time, in order,
//   pipelined or not, on the lane each route names (worker_pool.h);
// - wire.h turns an answer into bytes;
// - writer.h finishes answers that do not fit in their socket, so a client
//   that does not read holds no worker, and closes connections past their
//   deadlines or over the count.
//
// This file wires them to Pistache. In-flight requests are counted, so
// SIGTERM drains them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http/router.h"

namespace Pistache::Http {
class Endpoint;
}

namespace fsm::http {

struct ServerConfig {
  std::string host = "0.0.0.0";
  std::uint16_t port = 3000;  // 0: pick a free port (tests)
  int threads = 2;            // Pistache reactor threads: sockets, framing, inline routes
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
  // How long drain_and_stop waits for the requests in flight.
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

// The writer thread, and the deadlines of connections.
//
// An answer that does not fit in its socket is handed here, and finished
// (epoll) as the client reads it; the connection's next request waits for
// that, no worker does. So a client that never reads holds no thread, only
// its socket's send buffer and one answer, and the answers held for all such
// clients together are bounded (max_held_output_bytes).
//
// Every 250 ms the same thread sweeps the connections and closes one whose
// request has been arriving for longer than request_timeout, whose client
// has read nothing of an answer for write_timeout, or that has been idle for
// idle_timeout; and, above max_connections, the longest idle ones first.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/server.h"
#include "http/strand.h"

namespace fsm::http {

enum class SendResult { kDone, kBlocked, kFailed };

// Sends what it can of bytes[sent..] without waiting, advancing `sent`.
SendResult send_some(int fd, const std::string& bytes, std::size_t& sent);

class Writer {
 public:
  Writer(const ServerConfig& config, Strand& strand, InFlight& in_flight);

  void start();
  // Joins the thread; the answers it still held count as done.
  void stop();

  // Puts a new connection under the sweep's deadlines (until its last
  // reference goes).
  void track(const std::shared_ptr<Connection>& c);

  // Takes over the connection's sequence with an answer whose first `sent`
  // bytes are in the socket, and resumes the connection once the rest is.
  // False, and nothing taken, when it would put the answers held for slow
  // clients over their budget: the caller abandons the connection.
  bool hold(const std::shared_ptr<Connection>& c, std::string bytes, std::size_t sent, bool close);

 private:
  void wake();
  void loop();
  void take_handoffs();
  void unwatch(const std::shared_ptr<Connection>& c);
  void flush(std::shared_ptr<Connection> c);
  void sweep();
  void close_now(const std::shared_ptr<Connection>& c);

  const ServerConfig& config_;
  Strand& strand_;
  InFlight& in_flight_;
  std::atomic<std::size_t> held_bytes_{0};  // unsent answers held, all connections

  // Every connection, for the sweep (expired entries are pruned by it).
  std::mutex registry_mu_;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> registry_;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd in epoll_fd_: there are handoffs
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::unordered_map<int, std::shared_ptr<Connection>> watched_;  // writer thread only
  std::mutex handoff_mu_;
  std::vector<std::shared_ptr<Connection>> handoff_;  // to watch, from other threads
};

}  // namespace fsm::http

// A connection's requests are answered one at a time, in arrival order,
// pipelined or not. Whichever thread owns the connection's sequence (`busy`)
// runs its next request: the reactor for inline work, a lane's pool for the
// rest, the writer thread while it finishes an answer the client is slow to
// read. Answers are written without waiting; none of this blocks a thread on
// a client.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "http/dispatch.h"
#include "http/server.h"
#include "http/worker_pool.h"

namespace fsm::http {

// Milliseconds on the steady clock, for deadlines.
std::int64_t now_ms();

// One per TCP connection.
//
// The connection holds its own duplicate of the socket's descriptor, taken
// on the reactor thread while the socket is alive: Pistache closes its
// descriptor when the client goes away, and the number may then be reused by
// a new connection, but ours names this socket until the connection's last
// answer is done with it.
struct Connection {
  Connection(int socket, std::string ip);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const int fd;  // -1 when the duplicate failed: nothing can be answered
  const std::string peer_ip;

  // Reactor thread only: bytes not yet cut into a request, and whether
  // nothing more is read (after a `close` request or a refused one).
  std::string input;
  bool closing = false;

  std::mutex mu;  // guards what follows, up to the atomics
  std::deque<Work> queue;
  std::size_t queued_body_bytes = 0;
  bool busy = false;   // some thread owns the sequence
  bool ended = false;  // shut down by us: queued work is dropped
  // The unsent part of an answer the client is slow to read; the writer
  // thread owns it while the connection is in its watch list.
  std::string out;
  std::size_t out_sent = 0;
  std::size_t out_held = 0;  // what it counts in the writer's budget
  bool close_after_out = false;

  // For the sweep; milliseconds on the steady clock, 0 for "not now".
  std::atomic<std::int64_t> receiving_since{0};  // first byte of an unfinished request
  std::atomic<std::int64_t> last_active{now_ms()};
  std::atomic<std::int64_t> stalled_since{0};  // an answer waits for the client
  std::atomic<bool> peer_gone{false};          // Pistache saw the connection end
};

// Requests taken and not yet answered: a request counts until its answer is
// entirely in the socket, or dropped with its connection. A graceful stop
// waits for none to be left.
class InFlight {
 public:
  void add() { count_.fetch_add(1); }
  void done(int n = 1);
  // Waits until none is left or `timeout` passed; returns how many are left.
  int wait_for_none(std::chrono::milliseconds timeout);

 private:
  std::atomic<int> count_{0};
  std::mutex mu_;
  std::condition_variable none_;
};

class Writer;

class Strand {
 public:
  Strand(const ServerConfig& config, Lanes& lanes, InFlight& in_flight, const Dispatch& dispatch,
         Writer& writer);

  // Takes a request read on the reactor thread, and runs the connection's
  // sequence if nobody owns it. A connection that already has
  // max_queued_requests waiting, or twice max_body_bytes in bodies, is ended
  // instead; false when the connection is ended.
  bool submit(const std::shared_ptr<Connection>& c, Work work);

  // For the owner of the sequence: its answer is entirely in the socket.
  // True when the connection goes on (the owner continues it); false when it
  // was to close after the answer and now has.
  bool answered(const std::shared_ptr<Connection>& c, bool close);

  // Continues the sequence on a pool (the writer thread finished an answer).
  void resume(const std::shared_ptr<Connection>& c);

  // Shuts the connection down (Pistache then sees it end and drops its
  // peer); its queued requests are dropped by whoever owns its sequence.
  void end(const std::shared_ptr<Connection>& c);

  // For the owner of the sequence: drops the answer in hand and ends the
  // connection (its client is gone, too slow, or over a budget).
  void abandon(const std::shared_ptr<Connection>& c);

 private:
  void post(Lane lane, std::shared_ptr<Connection> c);
  void pump(const std::shared_ptr<Connection>& c, Lane here);
  bool deliver(const std::shared_ptr<Connection>& c, std::string bytes, bool close);
  void release(const std::shared_ptr<Connection>& c);
  // The lane of the connection's next request; none when it has none left
  // to run (it ended, or its queue is empty), and then the sequence is let go.
  std::optional<Lane> next_lane_locked(Connection& c);
  void drop_queue_locked(Connection& c);

  const ServerConfig& config_;
  Lanes& lanes_;
  InFlight& in_flight_;
  const Dispatch& dispatch_;
  Writer& writer_;
};

}  // namespace fsm::http

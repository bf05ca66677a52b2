#include "http/strand.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "http/writer.h"

namespace fsm::http {
namespace {

// The client reset the connection (or it is otherwise dead both ways).
bool is_dead(const Connection& c) {
  pollfd p{c.fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Connection::Connection(int socket, std::string ip)
    : fd(::fcntl(socket, F_DUPFD_CLOEXEC, 0)), peer_ip(std::move(ip)) {}

Connection::~Connection() {
  if (fd >= 0) ::close(fd);
}

void InFlight::done(int n) {
  if (n > 0 && count_.fetch_sub(n) == n) {
    std::lock_guard lock(mu_);
    none_.notify_all();
  }
}

int InFlight::wait_for_none(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  none_.wait_for(lock, timeout, [this] { return count_.load() == 0; });
  return count_.load();
}

Strand::Strand(const ServerConfig& config, Lanes& lanes, InFlight& in_flight,
               const Dispatch& dispatch, Writer& writer)
    : config_(config), lanes_(lanes), in_flight_(in_flight), dispatch_(dispatch), writer_(writer) {}

void Strand::post(Lane lane, std::shared_ptr<Connection> c) {
  lanes_.post(lane, [this, c = std::move(c), lane] { pump(c, lane); });
}

bool Strand::submit(const std::shared_ptr<Connection>& c, Work work) {
  {
    std::unique_lock lock(c->mu);
    if (c->ended) return false;
    if (c->queue.size() >= config_.max_queued_requests ||
        c->queued_body_bytes + work.req.body.size() > 2 * config_.max_body_bytes) {
      lock.unlock();
      log::warn("connection closed: too many requests waiting", {{"ip", c->peer_ip}},
                work.req.request_id);
      end(c);
      return false;
    }
    in_flight_.add();
    c->queued_body_bytes += work.req.body.size();
    c->queue.push_back(std::move(work));
    if (c->busy) return true;
    c->busy = true;
  }
  pump(c, Lane::kInline);
  return true;
}

// Answers the connection's queued requests in order while they may run on
// this thread (inline ones anywhere, the others on their own lane), and
// hands the sequence over otherwise. The caller owns `busy`.
void Strand::pump(const std::shared_ptr<Connection>& c, Lane here) {
  for (;;) {
    Work w;
    {
      std::unique_lock lock(c->mu);
      const auto lane = next_lane_locked(*c);
      if (!lane) return;
      if (*lane != Lane::kInline && *lane != here) {
        lock.unlock();
        post(*lane, c);
        return;
      }
      w = std::move(c->queue.front());
      c->queue.pop_front();
      c->queued_body_bytes -= w.req.body.size();
    }
    // Work for a client that has reset its connection is not done.
    if (c->peer_gone.load() && is_dead(*c)) {
      in_flight_.done();
      end(c);
      continue;
    }
    bool close = w.close;
    std::string bytes = dispatch_.answer(w, close);
    if (!deliver(c, std::move(bytes), close)) return;
  }
}

// Writes an answer without waiting. True when the connection goes on with
// its next request; otherwise it ended, or the writer thread finishes the
// answer and then resumes the connection.
bool Strand::deliver(const std::shared_ptr<Connection>& c, std::string bytes, bool close) {
  std::size_t sent = 0;
  switch (send_some(c->fd, bytes, sent)) {
    case SendResult::kDone:
      return answered(c, close);
    case SendResult::kFailed:
      abandon(c);
      return false;
    case SendResult::kBlocked:
      break;
  }
  if (!writer_.hold(c, std::move(bytes), sent, close)) abandon(c);
  return false;
}

bool Strand::answered(const std::shared_ptr<Connection>& c, bool close) {
  c->last_active = now_ms();
  in_flight_.done();
  if (!close) return true;
  end(c);
  release(c);
  return false;
}

void Strand::resume(const std::shared_ptr<Connection>& c) {
  std::optional<Lane> lane;
  {
    std::lock_guard lock(c->mu);
    lane = next_lane_locked(*c);
  }
  if (lane) post(*lane == Lane::kSlow ? Lane::kSlow : Lane::kWorker, c);
}

std::optional<Lane> Strand::next_lane_locked(Connection& c) {
  if (!c.ended && !c.queue.empty()) return c.queue.front().lane;
  drop_queue_locked(c);
  c.busy = false;
  return std::nullopt;
}

void Strand::end(const std::shared_ptr<Connection>& c) {
  if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
  std::lock_guard lock(c->mu);
  c->ended = true;
  if (!c->busy) drop_queue_locked(*c);
}

void Strand::abandon(const std::shared_ptr<Connection>& c) {
  in_flight_.done();
  end(c);
  release(c);
}

// The owner of an ended connection's sequence lets it go.
void Strand::release(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(c->mu);
  drop_queue_locked(*c);
  c->busy = false;
}

void Strand::drop_queue_locked(Connection& c) {
  const int n = static_cast<int>(c.queue.size());
  c.queue.clear();
  c.queued_body_bytes = 0;
  in_flight_.done(n);
}

}  // namespace fsm::http

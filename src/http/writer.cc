#include "http/writer.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <utility>

#include "common/log.h"

namespace fsm::http {
namespace {

constexpr std::int64_t kSweepEveryMs = 250;

}  // namespace

SendResult send_some(int fd, const std::string& bytes, std::size_t& sent) {
  if (fd < 0) return SendResult::kFailed;
  while (sent < bytes.size()) {
    const ssize_t n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return SendResult::kBlocked;
    } else {
      return SendResult::kFailed;
    }
  }
  return SendResult::kDone;
}

Writer::Writer(const ServerConfig& config, Strand& strand, InFlight& in_flight)
    : config_(config), strand_(strand), in_flight_(in_flight) {}

void Writer::start() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::runtime_error("cannot create the writer's epoll");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { loop(); });
}

void Writer::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  in_flight_.done(static_cast<int>(watched_.size()));
  watched_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  epoll_fd_ = wake_fd_ = -1;
}

void Writer::track(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(registry_mu_);
  registry_.emplace(c.get(), c);
}

bool Writer::hold(const std::shared_ptr<Connection>& c, std::string bytes, std::size_t sent,
                  bool close) {
  const std::size_t rest = bytes.size() - sent;
  if (held_bytes_.fetch_add(rest) + rest > config_.max_held_output_bytes) {
    held_bytes_.fetch_sub(rest);
    log::warn("connection closed: answers waiting for slow clients are over the budget",
              {{"ip", c->peer_ip}});
    return false;
  }
  {
    std::lock_guard lock(c->mu);
    c->out = std::move(bytes);
    c->out_sent = sent;
    c->out_held = rest;
    c->close_after_out = close;
  }
  c->stalled_since = now_ms();
  {
    std::lock_guard lock(handoff_mu_);
    handoff_.push_back(c);
  }
  wake();
  return true;
}

void Writer::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void Writer::loop() {
  auto next_sweep = now_ms();
  std::vector<epoll_event> events(64);
  while (!stop_.load()) {
    take_handoffs();
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 100);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == wake_fd_) {
        std::uint64_t count;
        [[maybe_unused]] const auto r = ::read(wake_fd_, &count, sizeof count);
        continue;
      }
      auto it = watched_.find(fd);
      if (it != watched_.end()) flush(it->second);
    }
    if (now_ms() >= next_sweep) {
      sweep();
      next_sweep = now_ms() + kSweepEveryMs;
    }
  }
}

void Writer::take_handoffs() {
  std::vector<std::shared_ptr<Connection>> taken;
  {
    std::lock_guard lock(handoff_mu_);
    taken.swap(handoff_);
  }
  for (auto& c : taken) {
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLONESHOT;
    ev.data.fd = c->fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
      in_flight_.done();
      strand_.end(c);
      continue;
    }
    watched_.emplace(c->fd, std::move(c));
  }
}

void Writer::unwatch(const std::shared_ptr<Connection>& c) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
  held_bytes_.fetch_sub(std::exchange(c->out_held, 0));
  c->stalled_since = 0;
  c->out.clear();
  c->out.shrink_to_fit();
  watched_.erase(c->fd);  // last: it may hold the last reference
}

void Writer::flush(std::shared_ptr<Connection> c) {
  switch (send_some(c->fd, c->out, c->out_sent)) {
    case SendResult::kBlocked: {
      c->stalled_since = now_ms();  // progress: the write deadline starts again
      epoll_event ev{};
      ev.events = EPOLLOUT | EPOLLONESHOT;
      ev.data.fd = c->fd;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
      return;
    }
    case SendResult::kFailed:
      unwatch(c);
      strand_.abandon(c);
      return;
    case SendResult::kDone: {
      const bool close = c->close_after_out;
      unwatch(c);
      if (strand_.answered(c, close)) strand_.resume(c);
      return;
    }
  }
}

void Writer::sweep() {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(registry_mu_);
    for (auto it = registry_.begin(); it != registry_.end();) {
      if (auto c = it->second.lock()) {
        live.push_back(std::move(c));
        ++it;
      } else {
        it = registry_.erase(it);
      }
    }
  }
  const auto now = now_ms();
  std::vector<std::shared_ptr<Connection>> idle_ones;
  std::size_t open = 0;
  for (auto& c : live) {
    bool busy = false, ended = false;
    {
      std::lock_guard lock(c->mu);
      busy = c->busy;
      ended = c->ended;
    }
    const auto stalled = c->stalled_since.load();
    const auto receiving = c->receiving_since.load();
    // Gone, or the client closed and nothing is left to answer: it is
    // freed with its last reference.
    if (ended || (c->peer_gone.load() && !busy)) continue;
    const char* why = nullptr;
    if (stalled != 0 && now - stalled > config_.write_timeout.count()) {
      why = "the client did not read its answer in time";
    } else if (receiving != 0 && now - receiving > config_.request_timeout.count()) {
      why = "the client did not send its request in time";
    } else if (!busy && receiving == 0 &&
               now - c->last_active.load() > config_.idle_timeout.count()) {
      why = "idle";
    }
    if (why) {
      log::info("connection closed", {{"ip", c->peer_ip}, {"reason", why}});
      close_now(c);
      continue;
    }
    ++open;
    if (!busy && receiving == 0) idle_ones.push_back(c);
  }
  if (open <= config_.max_connections) return;
  std::sort(idle_ones.begin(), idle_ones.end(), [](const auto& a, const auto& b) {
    return a->last_active.load() < b->last_active.load();
  });
  for (std::size_t i = 0; i < idle_ones.size() && open > config_.max_connections; ++i, --open) {
    close_now(idle_ones[i]);
  }
}

// Ends a connection from the writer thread, dropping an answer it owns.
void Writer::close_now(const std::shared_ptr<Connection>& c) {
  if (auto it = watched_.find(c->fd); it != watched_.end() && it->second == c) {
    unwatch(c);
    strand_.abandon(c);
    return;
  }
  strand_.end(c);
}

}  // namespace fsm::http

#include "http/server.h"

#include <fcntl.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "common/uuid.h"
#include "events/pg_pool.h"
#include "http/framing.h"
#include "http/request_checks.h"

namespace fsm::http {

namespace P = Pistache;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// A fixed set of threads running posted jobs in order of arrival. They run
// at a lower priority (`nice`) than the I/O threads: on two busy cores the
// I/O threads, which read every connection and answer health, come first.
class WorkerPool {
 public:
  void start(int threads, int nice) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, nice] {
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice);
        loop();
      });
    }
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }
  // Runs what is queued, then joins.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

// One request, parsed, waiting for its turn on its connection.
struct Work {
  Request req;
  const Handler* handler = nullptr;  // null: `early` is the answer
  std::optional<Response> early;
  Lane lane = Lane::kInline;
  int minor_version = 1;
  bool close = false;
  Clock::time_point started;
};

}  // namespace

// One per TCP connection. Its requests are answered one at a time, in
// arrival order; `busy` says that some thread owns that sequence (a pool
// running its next request, or the writer finishing its last answer).
//
// The connection holds its own duplicate of the socket's descriptor, taken
// on the reactor thread while the socket is alive: Pistache closes its
// descriptor when the client goes away, and the number may then be reused by
// a new connection, but ours names this socket until the connection's last
// answer is done with it.
struct Connection {
  Connection(int socket, std::string ip)
      : fd(::fcntl(socket, F_DUPFD_CLOEXEC, 0)), peer_ip(std::move(ip)) {}
  ~Connection() {
    if (fd >= 0) ::close(fd);
  }
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
  bool busy = false;
  bool ended = false;  // shut down by us: queued work is dropped
  // The unsent part of an answer the client is slow to read; the writer
  // thread owns it while the connection is in its watch list.
  std::string out;
  std::size_t out_sent = 0;
  std::size_t out_held = 0;  // what it counts in Shared::held_bytes
  bool close_after_out = false;

  // For the sweeper; milliseconds on the steady clock, 0 for "not now".
  std::atomic<std::int64_t> receiving_since{0};  // first byte of an unfinished request
  std::atomic<std::int64_t> last_active{now_ms()};
  std::atomic<std::int64_t> stalled_since{0};  // an answer waits for the client
  std::atomic<bool> peer_gone{false};          // Pistache saw the connection end
};

namespace {

enum class SendResult { kDone, kBlocked, kFailed };

// Sends what it can of bytes[sent..] without waiting.
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

// The client reset the connection (or it is otherwise dead both ways).
bool is_dead(const Connection& c) {
  pollfd p{c.fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

}  // namespace

struct Server::Shared {
  const Router* router = nullptr;
  ServerConfig config;
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
  std::atomic<std::size_t> held_bytes{0};  // unsent answers the writer keeps
  std::mutex mu;
  std::condition_variable idle;
  WorkerPool workers;
  WorkerPool slow;

  // Every connection, for the sweeper (expired entries are pruned by it).
  std::mutex registry_mu;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> registry;

  // The writer thread: finishes answers that did not fit in their socket,
  // and sweeps connections past their deadlines.
  int epoll_fd = -1;
  int wake_fd = -1;  // an eventfd in epoll_fd: there are handoffs
  std::thread writer;
  std::atomic<bool> writer_stop{false};
  std::unordered_map<int, std::shared_ptr<Connection>> watched;  // writer thread only
  std::mutex handoff_mu;
  std::vector<std::shared_ptr<Connection>> handoff;  // to watch, from other threads

  void finished(int n = 1) {
    if (n > 0 && in_flight.fetch_sub(n) == n) {
      std::lock_guard lock(mu);
      idle.notify_all();
    }
  }

  // ---- answering, in order, on whichever thread owns the connection ----

  void post(Lane lane, std::shared_ptr<Connection> c) {
    WorkerPool& pool = lane == Lane::kSlow ? slow : workers;
    pool.post([this, c = std::move(c), lane] { pump(c, lane); });
  }

  // Takes a new request (on the reactor thread); starts the connection's
  // sequence if it was idle. False when the connection is ended instead.
  bool submit(const std::shared_ptr<Connection>& c, Work work) {
    {
      std::unique_lock lock(c->mu);
      if (c->ended) return false;
      if (c->queue.size() >= config.max_queued_requests ||
          c->queued_body_bytes + work.req.body.size() > 2 * config.max_body_bytes) {
        lock.unlock();
        log::warn("connection closed: too many requests waiting", {{"ip", c->peer_ip}},
                  work.req.request_id);
        end(c);
        return false;
      }
      in_flight.fetch_add(1);
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
  void pump(const std::shared_ptr<Connection>& c, Lane here) {
    for (;;) {
      Work w;
      {
        std::unique_lock lock(c->mu);
        if (c->ended || c->queue.empty()) {
          drop_queue_locked(*c);
          c->busy = false;
          return;
        }
        const Lane lane = c->queue.front().lane;
        if (lane != Lane::kInline && lane != here) {
          lock.unlock();
          post(lane, c);
          return;
        }
        w = std::move(c->queue.front());
        c->queue.pop_front();
        c->queued_body_bytes -= w.req.body.size();
      }
      // Work for a client that has reset its connection is not done.
      if (c->peer_gone.load() && is_dead(*c)) {
        finished();
        end(c);
        continue;
      }
      bool close = w.close;
      std::string bytes = answer(w, close);
      if (!deliver(c, std::move(bytes), close)) return;
    }
  }

  // Writes an answer without waiting. True when the connection goes on with
  // its next request; otherwise it ended, or the writer thread finishes the
  // answer and then resumes the connection.
  bool deliver(const std::shared_ptr<Connection>& c, std::string bytes, bool close) {
    std::size_t sent = 0;
    switch (send_some(c->fd, bytes, sent)) {
      case SendResult::kDone:
        c->last_active = now_ms();
        finished();
        if (!close) return true;
        end(c);
        release(c);
        return false;
      case SendResult::kFailed:
        abandon(c);
        return false;
      case SendResult::kBlocked:
        break;
    }
    // What slow clients make us hold is bounded in total, too: past the
    // budget, the client that cannot take its answer is let go.
    const std::size_t rest = bytes.size() - sent;
    if (held_bytes.fetch_add(rest) + rest > config.max_held_output_bytes) {
      held_bytes.fetch_sub(rest);
      log::warn("connection closed: answers waiting for slow clients are over the budget",
                {{"ip", c->peer_ip}});
      abandon(c);
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
      std::lock_guard lock(handoff_mu);
      handoff.push_back(c);
    }
    wake_writer();
    return false;
  }

  // Continues a connection whose answer the writer finished.
  void resume(const std::shared_ptr<Connection>& c) {
    Lane lane;
    {
      std::lock_guard lock(c->mu);
      if (c->ended || c->queue.empty()) {
        drop_queue_locked(*c);
        c->busy = false;
        return;
      }
      lane = c->queue.front().lane;
    }
    post(lane == Lane::kSlow ? Lane::kSlow : Lane::kWorker, c);
  }

  // Closes the connection (Pistache then sees it end and drops its peer);
  // what it still had queued is dropped by whoever owns its sequence.
  void end(const std::shared_ptr<Connection>& c) {
    if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
    std::lock_guard lock(c->mu);
    c->ended = true;
    if (!c->busy) drop_queue_locked(*c);
  }

  // The owner of a connection's sequence drops the answer in hand and ends
  // the connection (its client is gone, too slow, or over a budget).
  void abandon(const std::shared_ptr<Connection>& c) {
    finished();
    end(c);
    release(c);
  }

  // The owner of an ended connection's sequence lets it go.
  void release(const std::shared_ptr<Connection>& c) {
    std::lock_guard lock(c->mu);
    drop_queue_locked(*c);
    c->busy = false;
  }

  void drop_queue_locked(Connection& c) {
    const int n = static_cast<int>(c.queue.size());
    c.queue.clear();
    c.queued_body_bytes = 0;
    finished(n);
  }

  // Runs the request's handler (or takes its early answer), logs it, and
  // returns the answer's bytes. `close` is also set once draining began: a
  // request that was in flight then must not leave its connection open.
  std::string answer(Work& w, bool& close) {
    logged_caller() = {};
    const Response res = w.early ? *w.early : dispatch(w);
    close = close || draining.load();
    Answer a;
    a.status = res.status;
    if (!res.body.is_null()) {
      a.body = res.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      a.json = true;
    }
    a.headers.reserve(res.headers.size() + 1);
    a.headers.emplace_back("X-Request-Id", w.req.request_id);
    a.headers.insert(a.headers.end(), res.headers.begin(), res.headers.end());
    log_request(w, res);
    return serialize_answer(a, w.minor_version, w.req.method == Method::kHead, close);
  }

  Response dispatch(Work& w) {
    try {
      return to_response((*w.handler)(w.req), w.req.request_id);
    } catch (const events::DbUnavailable& e) {
      log::warn("database unavailable", {{"error", e.what()}, {"path", w.req.path}},
                w.req.request_id);
      auto res = error_response(
          Error::of(ErrorCode::kUnavailable, "the database is unavailable; retry shortly"),
          w.req.request_id);
      res.headers.emplace_back("Retry-After", "2");
      return res;
    } catch (const std::exception& e) {
      // Details go to the log only; the caller sees a generic message.
      log::error("unhandled error", {{"error", e.what()}, {"path", w.req.path}}, w.req.request_id);
    } catch (...) {
      log::error("unhandled non-standard exception", {{"path", w.req.path}}, w.req.request_id);
    }
    return error_response(Error::of(ErrorCode::kInternal, "internal error"), w.req.request_id);
  }

  // The access log line: enough to tell requests apart with jq (the runbook's
  // filters), never a secret.
  static void log_request(const Work& w, const Response& res) {
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - w.started).count();
    nlohmann::json fields = {{"method", method_name(w.req.method)},
                             {"path", w.req.path},
                             {"status", res.status},
                             {"duration_ms", std::round(ms * 1000.0) / 1000.0},
                             {"ip", w.req.peer_ip}};
    if (!w.req.query.empty()) fields["query"] = loggable_query(w.req.query);
    if (res.status >= 400 && res.body.is_object() && res.body.contains("error")) {
      fields["code"] = res.body["error"].value("code", "");
    }
    const LoggedCaller& caller = logged_caller();
    if (!caller.account_id.empty()) fields["account_id"] = caller.account_id;
    if (!caller.user_id.empty()) fields["user_id"] = caller.user_id;
    log::info("request", fields, w.req.request_id);
  }

  // The query string with the values of secret-looking parameters replaced.
  static std::string loggable_query(const std::map<std::string, std::string>& query) {
    std::string out;
    for (const auto& [name, value] : query) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      const bool secret =
          lower.find("token") != std::string::npos || lower.find("password") != std::string::npos ||
          lower.find("secret") != std::string::npos || lower.find("key") != std::string::npos;
      if (!out.empty()) out += '&';
      out += name + "=" + (secret ? std::string("[redacted]") : value);
    }
    return out;
  }

  // ---- the writer thread ----

  void wake_writer() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd, &one, sizeof one);
  }

  void start_writer() {
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd < 0 || wake_fd < 0) throw std::runtime_error("cannot create the writer's epoll");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
    writer = std::thread([this] { writer_loop(); });
  }

  void stop_writer() {
    writer_stop = true;
    if (writer.joinable()) writer.join();
    finished(static_cast<int>(watched.size()));
    watched.clear();
    if (epoll_fd >= 0) ::close(epoll_fd);
    if (wake_fd >= 0) ::close(wake_fd);
    epoll_fd = wake_fd = -1;
  }

  void writer_loop() {
    auto next_sweep = now_ms();
    std::vector<epoll_event> events(64);
    while (!writer_stop.load()) {
      take_handoffs();
      const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 100);
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == wake_fd) {
          std::uint64_t count;
          [[maybe_unused]] const auto r = ::read(wake_fd, &count, sizeof count);
          continue;
        }
        auto it = watched.find(fd);
        if (it != watched.end()) flush(it->second);
      }
      if (now_ms() >= next_sweep) {
        sweep();
        next_sweep = now_ms() + 250;
      }
    }
  }

  void take_handoffs() {
    std::vector<std::shared_ptr<Connection>> taken;
    {
      std::lock_guard lock(handoff_mu);
      taken.swap(handoff);
    }
    for (auto& c : taken) {
      epoll_event ev{};
      ev.events = EPOLLOUT | EPOLLONESHOT;
      ev.data.fd = c->fd;
      if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        finished();
        end(c);
        continue;
      }
      watched.emplace(c->fd, std::move(c));
    }
  }

  void unwatch(const std::shared_ptr<Connection>& c) {
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    held_bytes.fetch_sub(std::exchange(c->out_held, 0));
    c->stalled_since = 0;
    c->out.clear();
    c->out.shrink_to_fit();
    watched.erase(c->fd);  // last: it may hold the last reference
  }

  void flush(std::shared_ptr<Connection> c) {
    switch (send_some(c->fd, c->out, c->out_sent)) {
      case SendResult::kBlocked: {
        c->stalled_since = now_ms();  // progress: the write deadline starts again
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLONESHOT;
        ev.data.fd = c->fd;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
        return;
      }
      case SendResult::kFailed:
        unwatch(c);
        abandon(c);
        return;
      case SendResult::kDone: {
        const bool close = c->close_after_out;
        unwatch(c);
        c->last_active = now_ms();
        finished();
        if (close) {
          end(c);
          release(c);
          return;
        }
        resume(c);
        return;
      }
    }
  }

  // Closes connections past a deadline, and the longest idle ones when
  // there are too many.
  void sweep() {
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(registry_mu);
      for (auto it = registry.begin(); it != registry.end();) {
        if (auto c = it->second.lock()) {
          live.push_back(std::move(c));
          ++it;
        } else {
          it = registry.erase(it);
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
      if (stalled != 0 && now - stalled > config.write_timeout.count()) {
        why = "the client did not read its answer in time";
      } else if (receiving != 0 && now - receiving > config.request_timeout.count()) {
        why = "the client did not send its request in time";
      } else if (!busy && receiving == 0 &&
                 now - c->last_active.load() > config.idle_timeout.count()) {
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
    if (open <= config.max_connections) return;
    std::sort(idle_ones.begin(), idle_ones.end(), [](const auto& a, const auto& b) {
      return a->last_active.load() < b->last_active.load();
    });
    for (std::size_t i = 0; i < idle_ones.size() && open > config.max_connections; ++i, --open) {
      close_now(idle_ones[i]);
    }
  }

  // Ends a connection from the writer thread, dropping an answer it owns.
  void close_now(const std::shared_ptr<Connection>& c) {
    if (auto it = watched.find(c->fd); it != watched.end() && it->second == c) {
      unwatch(c);
      abandon(c);
      return;
    }
    end(c);
  }
};

namespace {

Method to_method(std::string_view m) {
  if (m == "GET") return Method::kGet;
  if (m == "POST") return Method::kPost;
  if (m == "PUT") return Method::kPut;
  if (m == "PATCH") return Method::kPatch;
  if (m == "DELETE") return Method::kDelete;
  if (m == "HEAD") return Method::kHead;
  if (m == "OPTIONS") return Method::kOptions;
  return Method::kOther;
}

// A caller's X-Request-Id is kept when it is short and plain; anything else
// (empty, long, spaces, quotes, control bytes) is replaced by a fresh UUID so
// it cannot inject into logs or headers.
std::string request_id_for(const std::optional<std::string>& given) {
  if (given && !given->empty() && given->size() <= 128) {
    bool sane = true;
    for (unsigned char c : *given) {
      sane = sane && (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':');
    }
    if (sane) return *given;
  }
  return new_uuid();
}

Response frame_refusal(const Frame& f, const std::string& trace_id) {
  switch (f.status) {
    case 413:
      return error_response(Refusal{TransportCode::kPayloadTooLarge, f.why}, trace_id);
    case 431:
      return error_response(Refusal{TransportCode::kHeadersTooLarge, f.why}, trace_id);
    default:
      return error_response(Error::of(ErrorCode::kValidation, f.why), trace_id);
  }
}

constexpr int kSendBufferBytes = 256 * 1024;
constexpr int kWorkerNice = 5;

class PistacheHandler : public P::Http::Handler {
 public:
  HTTP_PROTOTYPE(PistacheHandler)

  explicit PistacheHandler(std::shared_ptr<Server::Shared> shared) : shared_(std::move(shared)) {}

  // Replaces Http::Handler's (private) one. Requests are read by framing.h;
  // the parser is made only because Pistache's timeout check looks it up
  // (its timeouts are off: see Server::start).
  void onConnection(const std::shared_ptr<P::Tcp::Peer>& peer) override {
    peer->putData(ParserData, std::make_shared<P::Http::RequestParser>(1));
    // A fixed send buffer (no autotuning up to megabytes): what a client
    // that does not read can make us hold is bounded by it plus the one
    // answer the writer thread keeps.
    const int send_buffer = kSendBufferBytes;
    ::setsockopt(peer->fd(), SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    std::string ip;
    try {
      ip = peer->address().host();
    } catch (...) {
    }
    auto ref = std::make_shared<ConnectionRef>();
    ref->connection = std::make_shared<Connection>(peer->fd(), std::move(ip));
    {
      std::lock_guard lock(shared_->registry_mu);
      shared_->registry.emplace(ref->connection.get(), ref->connection);
    }
    peer->putData(kKey, ref);
  }

  void onDisconnection(const std::shared_ptr<P::Tcp::Peer>& peer) override {
    if (auto c = connection_of(peer)) c->peer_gone = true;
  }

  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<P::Tcp::Peer>& peer) override {
    auto c = connection_of(peer);
    if (!c || c->closing) return;
    c->input.append(buffer, len);
    c->last_active = now_ms();
    const FrameLimits limits{shared_->config.max_head_bytes, shared_->config.max_body_bytes};
    bool cut = false;
    while (!c->input.empty() && !c->closing) {
      Frame frame = frame_request(c->input, limits);
      if (frame.kind == Frame::Kind::kInvalid) return reject(c, frame);
      if (frame.kind == Frame::Kind::kIncomplete) break;
      Work w = make_work(std::move(frame.head), c->input, frame.size, c->peer_ip);
      c->closing = w.close;  // nothing after a `close` request is read
      c->input.erase(0, frame.size);
      cut = true;
      if (!shared_->submit(c, std::move(w))) c->closing = true;
    }
    if (c->input.empty()) {
      c->receiving_since = 0;
    } else if (cut || c->receiving_since.load() == 0) {
      c->receiving_since = now_ms();
    }
  }

  void onRequest(const P::Http::Request&, P::Http::ResponseWriter) override {
    // Unused: onInput above reads requests itself.
  }

 private:
  static constexpr const char* kKey = "fsm.connection";

  // The peer's reference to its connection, released in our code (not inside
  // uninstrumented libpistache) so ThreadSanitizer sees the reference
  // count's synchronisation with the thread that used the connection last.
  struct ConnectionRef {
    std::shared_ptr<Connection> connection;
    ~ConnectionRef() { connection.reset(); }
  };

  static std::shared_ptr<Connection> connection_of(const std::shared_ptr<P::Tcp::Peer>& peer) {
    auto data = peer->tryGetData(kKey);
    return data ? std::static_pointer_cast<ConnectionRef>(data)->connection : nullptr;
  }

  // The request as handlers see it, routed, or with its early answer.
  Work make_work(RequestHead head, const std::string& input, std::size_t size,
                 const std::string& ip) {
    Work w;
    w.started = Clock::now();
    Request& r = w.req;
    r.method = to_method(head.method);
    r.path = std::move(head.path);
    r.headers = std::move(head.headers);
    r.body = input.substr(size - head.content_length, head.content_length);
    r.request_id = request_id_for(r.header("x-request-id"));
    r.peer_ip = ip;

    w.minor_version = head.minor_version;
    w.close = head.close;
    std::vector<Issue> repeated;
    for (auto& [name, value] : parse_query(head.query)) {
      if (r.query.count(name) != 0) {
        if (std::none_of(repeated.begin(), repeated.end(), [&](const Issue& i) {
              return std::get<std::string>(i.path.front()) == name;
            })) {
          repeated.push_back({{name}, "given more than once"});
        }
        continue;
      }
      r.query.emplace(std::move(name), std::move(value));
    }
    if (!repeated.empty()) {
      w.early = error_response(Error::validation(std::move(repeated), "invalid query parameters"),
                               r.request_id);
      return w;
    }
    auto match = shared_->router->match(r.method, r.path);
    if (!match.handler) {
      if (match.allowed.empty()) {
        w.early = error_response(Error::of(ErrorCode::kNotFound, "no such route"), r.request_id);
        return w;
      }
      std::string allow;
      for (auto m : match.allowed) allow += std::string(allow.empty() ? "" : ", ") + method_name(m);
      w.early = error_response(Refusal{TransportCode::kMethodNotAllowed, "method not allowed"},
                               r.request_id);
      w.early->headers.emplace_back("Allow", allow);
      return w;
    }
    if (auto refused = check_media_type(r)) {
      w.early = error_response(*refused, r.request_id);
      return w;
    }
    r.params = std::move(match.params);
    w.handler = match.handler;
    w.lane = match.lane;
    return w;
  }

  // Answers a request that cannot be read, after the answers to the ones
  // before it, and closes the connection.
  void reject(const std::shared_ptr<Connection>& c, const Frame& frame) {
    c->closing = true;  // what follows the bad request is not read
    c->input.clear();
    c->receiving_since = 0;
    Work w;
    w.started = Clock::now();
    w.req.method = Method::kOther;
    w.req.path = "(unreadable request)";
    w.req.request_id = new_uuid();
    w.req.peer_ip = c->peer_ip;
    w.early = frame_refusal(frame, w.req.request_id);
    w.close = true;
    shared_->submit(c, std::move(w));
  }

  std::shared_ptr<Server::Shared> shared_;
};

}  // namespace

Server::Server(ServerConfig config, const Router& router)
    : config_(std::move(config)), shared_(std::make_shared<Shared>()) {
  shared_->router = &router;
  shared_->config = config_;
}

Server::~Server() {
  if (endpoint_) endpoint_->shutdown();
  shared_->workers.stop();
  shared_->slow.stop();
  shared_->stop_writer();
}

std::uint16_t Server::start() {
  P::Address addr(config_.host, P::Port(config_.port));
  endpoint_ = std::make_unique<P::Http::Endpoint>(addr);
  // Pistache's own timeouts would answer on a connection behind our back;
  // the writer thread's sweep keeps ours.
  constexpr auto kNever = std::chrono::milliseconds::max();
  auto opts = P::Http::Endpoint::options()
                  .threads(config_.threads)
                  .flags(P::Tcp::Options::ReuseAddr | P::Tcp::Options::NoDelay)
                  .headerTimeout(kNever)
                  .bodyTimeout(kNever)
                  .keepaliveTimeout(kNever);
  endpoint_->init(opts);
  endpoint_->setHandler(P::Http::make_handler<PistacheHandler>(shared_));
  shared_->workers.start(config_.workers, kWorkerNice);
  shared_->slow.start(config_.slow_workers, kWorkerNice + 5);
  shared_->start_writer();
  endpoint_->serveThreaded();
  return static_cast<std::uint16_t>(endpoint_->getPort());
}

bool Server::draining() const { return shared_->draining.load(); }

int Server::drain_and_stop() {
  shared_->draining = true;
  {
    std::unique_lock lock(shared_->mu);
    shared_->idle.wait_for(lock, config_.drain_timeout,
                           [this] { return shared_->in_flight.load() == 0; });
  }
  const int left = shared_->in_flight.load();
  if (endpoint_) {
    endpoint_->shutdown();
    endpoint_.reset();
  }
  shared_->workers.stop();
  shared_->slow.stop();
  shared_->stop_writer();
  return left;
}

}  // namespace fsm::http

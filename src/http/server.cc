#include "http/server.h"

#include <fcntl.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/uuid.h"
#include "events/pg_pool.h"
#include "http/framing.h"
#include "http/request_checks.h"

namespace fsm::http {

namespace P = Pistache;

// Handlers run on a fixed pool of worker threads, not on Pistache's reactor
// threads: a handler that waits (for a row lock, for Argon2id) then holds one
// worker, never the I/O of every connection that shares its reactor.
class WorkerPool {
 public:
  void start(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
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

// One per connection: its requests run one at a time, in arrival order, and
// each answer is written by the worker that made it, straight to the socket.
// The strand holds its own duplicate of the socket's descriptor, taken on the
// reactor thread while the connection is alive: Pistache closes its
// descriptor when the client goes away, and the number may then be reused by
// a new connection, but ours still names this socket until the last request
// of the connection is done with it.
struct Strand {
  explicit Strand(int socket) : fd(::fcntl(socket, F_DUPFD_CLOEXEC, 0)) {}
  ~Strand() {
    if (fd >= 0) ::close(fd);
  }
  Strand(const Strand&) = delete;
  Strand& operator=(const Strand&) = delete;

  const int fd;  // -1 when the duplicate failed: the answer cannot be written
  std::mutex mu;
  std::deque<std::function<void()>> pending;
  bool running = false;

  // Touched by the connection's reactor thread only: bytes received and not
  // yet handed to the parser as a whole request, and whether the connection
  // is being closed (nothing more it sends is read).
  std::string input;
  bool closing = false;
};

struct Server::Shared {
  const Router* router = nullptr;
  std::size_t max_body_bytes = 0;
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
  std::mutex mu;
  std::condition_variable idle;
  WorkerPool workers;

  void finished() {
    if (in_flight.fetch_sub(1) == 1) {
      std::lock_guard lock(mu);
      idle.notify_all();
    }
  }

  void run_on(const std::shared_ptr<Strand>& strand, std::function<void()> job) {
    {
      std::lock_guard lock(strand->mu);
      if (strand->running) {
        strand->pending.push_back(std::move(job));
        return;
      }
      strand->running = true;
    }
    workers.post([strand, job = std::move(job)] {
      job();
      for (;;) {
        std::function<void()> next;
        {
          std::lock_guard lock(strand->mu);
          if (strand->pending.empty()) {
            strand->running = false;
            return;
          }
          next = std::move(strand->pending.front());
          strand->pending.pop_front();
        }
        next();
      }
    });
  }
};

namespace {

Method to_method(P::Http::Method m) {
  switch (m) {
    case P::Http::Method::Get:
      return Method::kGet;
    case P::Http::Method::Post:
      return Method::kPost;
    case P::Http::Method::Put:
      return Method::kPut;
    case P::Http::Method::Patch:
      return Method::kPatch;
    case P::Http::Method::Delete:
      return Method::kDelete;
    case P::Http::Method::Head:
      return Method::kHead;
    case P::Http::Method::Options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding of a query component.
std::string url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
               hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
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

bool wants_close(const P::Http::Request& req) {
  auto conn = req.headers().tryGetRaw("Connection");
  std::string v = conn ? conn->value() : "";
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (req.version() == P::Http::Version::Http10) return v.find("keep-alive") == std::string::npos;
  return v.find("close") != std::string::npos;
}

Request to_request(const P::Http::Request& in, const std::shared_ptr<P::Tcp::Peer>& peer) {
  Request r;
  r.method = to_method(in.method());
  r.path = in.resource();
  for (auto it = in.query().parameters_begin(); it != in.query().parameters_end(); ++it) {
    r.query[url_decode(it->first)] = url_decode(it->second);
  }
  for (const auto& [name, raw] : in.headers().rawList()) {
    std::string lower = raw.name();
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    r.headers.emplace_back(std::move(lower), raw.value());
  }
  r.body = in.body();
  r.request_id = request_id_for(r.header("x-request-id"));
  try {
    r.peer_ip = peer->address().host();
  } catch (...) {
    r.peer_ip = "";
  }
  return r;
}

// A header value as sent: line breaks would end the header early.
void append_header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  for (const char c : value) {
    if (c != '\r' && c != '\n') out += c;
  }
  out += "\r\n";
}

// The response's bytes: status line, headers, body (none for HEAD, 204, 304).
std::string http_message(P::Http::Version version, Method method, const Response& res,
                         const std::string& request_id, bool close) {
  std::string body;
  if (!res.body.is_null())
    body = res.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(body.size() + 256);
  out += version == P::Http::Version::Http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(res.status);
  out += ' ';
  out += P::Http::codeString(static_cast<P::Http::Code>(res.status));
  out += "\r\n";
  append_header(out, "Connection", close ? "Close" : "Keep-Alive");  // as Pistache wrote it
  append_header(out, "X-Request-Id", request_id);
  for (const auto& [k, v] : res.headers) append_header(out, k, v);
  const bool bodiless = res.status == 204 || res.status == 304;
  if (!res.body.is_null()) append_header(out, "Content-Type", "application/json; charset=utf-8");
  if (!bodiless) append_header(out, "Content-Length", std::to_string(body.size()));
  out += "\r\n";
  if (!bodiless && method != Method::kHead) out += body;
  return out;
}

// How long an answer may wait for a client that does not read it.
constexpr int kWriteTimeoutMs = 10000;

// Writes `bytes` to the connection from this (worker) thread; the socket is
// non-blocking, so a full send buffer is waited out with poll. A client that
// has gone, or reads nothing for kWriteTimeoutMs, is disconnected, as is one
// whose request asked for `close`.
void write_to(const Strand& strand, const std::string& bytes, bool close) {
  if (strand.fd < 0) return;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(strand.fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    pollfd writable{strand.fd, POLLOUT, 0};
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        ::poll(&writable, 1, kWriteTimeoutMs) > 0) {
      continue;
    }
    close = true;
    break;
  }
  // Pistache then sees the connection end and drops it.
  if (close) ::shutdown(strand.fd, SHUT_RDWR);
}

// Writes `res` and counts the request as finished.
void send(Server::Shared& shared, const Strand& strand, P::Http::Version version, Method method,
          const Response& res, const std::string& request_id, bool close) {
  write_to(strand, http_message(version, method, res, request_id, close), close);
  shared.finished();
}

Response dispatch(const Router& router, const Request& req) {
  auto match = router.match(req.method, req.path);
  if (!match.handler) {
    if (match.allowed.empty()) {
      return error_response(Error::of(ErrorCode::kNotFound, "no such route"), req.request_id);
    }
    std::string allow;
    for (auto m : match.allowed) allow += std::string(allow.empty() ? "" : ", ") + method_name(m);
    auto res = error_response(Error::of(ErrorCode::kMethodNotAllowed, "method not allowed"),
                              req.request_id);
    res.headers.emplace_back("Allow", allow);
    return res;
  }
  if (auto refused = check_media_type(req)) return error_response(*refused, req.request_id);
  Request routed = req;
  routed.params = std::move(match.params);
  try {
    return (*match.handler)(routed);
  } catch (const events::DbUnavailable& e) {
    log::warn("database unavailable", {{"error", e.what()}, {"path", req.path}}, req.request_id);
    auto res = error_response(
        Error::of(ErrorCode::kUnavailable, "the database is unavailable; retry shortly"),
        req.request_id);
    res.headers.emplace_back("Retry-After", "2");
    return res;
  } catch (const std::exception& e) {
    // Details go to the log only; the caller sees a generic message.
    log::error("unhandled error", {{"error", e.what()}, {"path", req.path}}, req.request_id);
  } catch (...) {
    log::error("unhandled non-standard exception", {{"path", req.path}}, req.request_id);
  }
  return error_response(Error::of(ErrorCode::kInternal, "internal error"), req.request_id);
}

class PistacheHandler : public P::Http::Handler {
 public:
  HTTP_PROTOTYPE(PistacheHandler)

  explicit PistacheHandler(std::shared_ptr<Server::Shared> shared) : shared_(std::move(shared)) {}

  // Replaces Http::Handler's input loop (see the header comment): requests
  // are cut from the connection's bytes (frame_request) and parsed one by
  // one, so pipelined requests are all answered, in order.
  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<P::Tcp::Peer>& peer) override {
    auto parser = getParser(peer);
    if (!parser) return;
    auto strand = strand_of(peer);
    if (strand->closing) return;
    std::string& input = strand->input;
    input.append(buffer, len);
    // Pistache's own buffer holds a request up to this size.
    const std::size_t limit = shared_->max_body_bytes + 64 * 1024;
    while (!input.empty() && !strand->closing) {
      const Frame frame = frame_request(input);
      if (frame.kind == Frame::Kind::kInvalid) {
        return reject(strand, Error::of(ErrorCode::kValidation, frame.why));
      }
      if (frame.size > limit || (frame.size == 0 && input.size() > limit)) {
        return reject(strand, Error::of(ErrorCode::kPayloadTooLarge, "request too large"));
      }
      if (frame.kind == Frame::Kind::kIncomplete) {
        // A request line ends at its first line feed and has two spaces;
        // anything else would otherwise wait for bytes that never come.
        const std::size_t eol = input.find('\n');
        if (frame.size == 0 && eol != std::string::npos &&
            std::count(input.begin(), input.begin() + static_cast<long>(eol), ' ') < 2) {
          return reject(strand, Error::of(ErrorCode::kValidation, "malformed HTTP request"));
        }
        return;  // the rest of the request is still on its way
      }
      bool parsed = false;
      try {
        parsed = parser->feed(input.data(), frame.size) &&
                 parser->parse() == P::Http::Private::State::Done;
      } catch (const std::exception&) {
        parsed = false;
      }
      if (!parsed) {
        parser->reset();
        return reject(strand, Error::of(ErrorCode::kValidation, "malformed HTTP request"));
      }
      strand->closing = serve(parser->request, peer, strand);
      parser->reset();
      input.erase(0, frame.size);
    }
  }

  void onRequest(const P::Http::Request&, P::Http::ResponseWriter) override {
    // Unused: onInput above dispatches requests itself.
  }

 private:
  // Parses the request here, on the reactor thread, and runs it on a worker.
  // Returns whether the connection closes after the answer.
  bool serve(const P::Http::Request& in, const std::shared_ptr<P::Tcp::Peer>& peer,
             const std::shared_ptr<Strand>& strand) {
    const auto started = std::chrono::steady_clock::now();
    shared_->in_flight.fetch_add(1);
    auto req = std::make_shared<Request>();
    std::optional<Response> early;
    bool close = false;
    try {
      *req = to_request(in, peer);
      close = wants_close(in);
      if (req->body.size() > shared_->max_body_bytes) {
        early = error_response(Error::of(ErrorCode::kPayloadTooLarge, "body over the size limit"),
                               req->request_id);
        close = true;  // the rest of an oversized upload must not be parsed as a request
      }
    } catch (...) {
      if (req->request_id.empty()) req->request_id = new_uuid();
      early = error_response(Error::of(ErrorCode::kInternal, "internal error"), req->request_id);
    }
    auto shared = shared_;
    const auto version = in.version();
    shared_->run_on(strand, [shared, strand, req, early, close, version, started]() mutable {
      Response res = early ? *early : dispatch(*shared->router, *req);
      // Decided now, not on arrival: a request that was in flight when
      // draining began must not leave its connection open.
      close = close || shared->draining.load();
      send(*shared, *strand, version, req->method, res, req->request_id, close);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
      log::info("request",
                {{"method", method_name(req->method)},
                 {"path", req->path},
                 {"status", res.status},
                 {"duration_ms", std::round(ms * 1000.0) / 1000.0}},
                req->request_id);
    });
    return close;
  }

  // The peer's reference to its strand. The peer drops it inside
  // libpistache (not built for ThreadSanitizer), which then could not see
  // the reference count's synchronisation with the worker that used the
  // strand last; released here, in our code, it can.
  struct StrandRef {
    std::shared_ptr<Strand> strand;
    ~StrandRef() { strand.reset(); }
  };

  // The connection's strand (created on its first request, on this thread).
  static std::shared_ptr<Strand> strand_of(const std::shared_ptr<P::Tcp::Peer>& peer) {
    static const std::string kKey = "fsm.strand";
    if (auto existing = peer->tryGetData(kKey)) {
      return std::static_pointer_cast<StrandRef>(existing)->strand;
    }
    auto ref = std::make_shared<StrandRef>();
    ref->strand = std::make_shared<Strand>(peer->fd());
    peer->putData(kKey, ref);
    return ref->strand;
  }

  // Answers a request that could not be parsed and closes the connection,
  // after the answers to the requests before it (through its strand).
  void reject(const std::shared_ptr<Strand>& strand, const Error& error) {
    shared_->in_flight.fetch_add(1);
    auto shared = shared_;
    strand->closing = true;  // what follows the bad request is not read
    strand->input.clear();
    shared_->run_on(strand, [shared, strand, error] {
      const std::string id = new_uuid();
      const auto res = error_response(error, id);
      send(*shared, *strand, P::Http::Version::Http11, Method::kOther, res, id, /*close=*/true);
      log::info("request rejected", {{"status", res.status}, {"reason", error.message}}, id);
    });
  }

  std::shared_ptr<Server::Shared> shared_;
};

}  // namespace

Server::Server(ServerConfig config, const Router& router)
    : config_(std::move(config)), shared_(std::make_shared<Shared>()) {
  shared_->router = &router;
  shared_->max_body_bytes = config_.max_body_bytes;
}

Server::~Server() {
  if (endpoint_) endpoint_->shutdown();
  shared_->workers.stop();
}

std::uint16_t Server::start() {
  P::Address addr(config_.host, P::Port(config_.port));
  endpoint_ = std::make_unique<P::Http::Endpoint>(addr);
  // Pistache's buffer holds headers and body: allow the body limit plus room for
  // headers, so a body just over the limit still gets our JSON 413.
  auto opts = P::Http::Endpoint::options()
                  .threads(config_.threads)
                  .flags(P::Tcp::Options::ReuseAddr | P::Tcp::Options::NoDelay)
                  .maxRequestSize(config_.max_body_bytes + 64 * 1024)
                  .maxResponseSize(16 * 1024 * 1024);
  endpoint_->init(opts);
  endpoint_->setHandler(P::Http::make_handler<PistacheHandler>(shared_));
  shared_->workers.start(config_.workers);
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
  // The last responses are queued for the reactor threads; let them go out.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (endpoint_) {
    endpoint_->shutdown();
    endpoint_.reset();
  }
  shared_->workers.stop();
  return left;
}

}  // namespace fsm::http

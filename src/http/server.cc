#include "http/server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <sys/socket.h>

#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/uuid.h"
#include "events/pg_pool.h"

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

// One per connection: its requests run one at a time, in arrival order, so
// pipelined requests are answered in order.
struct Strand {
  std::mutex mu;
  std::deque<std::function<void()>> pending;
  bool running = false;
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

// A response header with a name chosen at run time. Pistache 0.0.5 writes only
// typed headers (a Raw one added to a response is silently dropped).
class NamedHeader final : public P::Http::Header::Header {
 public:
  NamedHeader(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void write(std::ostream& os) const override { os << value_; }
#ifdef SAFE_HEADER_CAST
  uint64_t hash() const override { return P::Http::Header::detail::hash(name_.c_str()); }
#endif

 private:
  std::string name_;
  std::string value_;
};

void add_header(P::Http::ResponseWriter& writer, std::string name, std::string value) {
  writer.headers().add(std::make_shared<NamedHeader>(std::move(name), std::move(value)));
}

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

void shutdown_socket(const std::weak_ptr<P::Tcp::Peer>& weak) {
  if (auto peer = weak.lock()) ::shutdown(peer->fd(), SHUT_RDWR);
}

// Writes `res` and, once it is on the wire, counts the request as finished and
// closes the connection if asked to.
void send(Server::Shared& shared, P::Http::ResponseWriter& writer, const Response& res,
          const std::string& request_id, bool close,
          const std::shared_ptr<P::Tcp::Peer>& peer) {
  writer.headers().add<P::Http::Header::Connection>(close ? P::Http::ConnectionControl::Close
                                                          : P::Http::ConnectionControl::KeepAlive);
  add_header(writer, "X-Request-Id", request_id);
  for (const auto& [k, v] : res.headers) add_header(writer, k, v);
  std::string body;
  if (!res.body.is_null()) {
    auto mime = MIME(Application, Json);
    mime.setParam("charset", "utf-8");
    writer.setMime(mime);
    body = res.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::weak_ptr<P::Tcp::Peer> weak = peer;
  try {
    writer.send(static_cast<P::Http::Code>(res.status), body)
        .then(
            [weak, close](ssize_t) {
              if (close) shutdown_socket(weak);
            },
            [weak](std::exception_ptr) { shutdown_socket(weak); });
  } catch (...) {
    shutdown_socket(weak);
  }
  // Counted as finished once queued for the reactor, not from the write's
  // continuation: attached from a worker thread, that continuation was seen
  // (rarely) never to run, which left a drain waiting for its full timeout.
  // drain_and_stop gives the reactor a moment to flush what is queued.
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

  // Replaces Http::Handler's input loop (see the header comment).
  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<P::Tcp::Peer>& peer) override {
    auto parser = getParser(peer);
    if (!parser) return;
    try {
      if (!parser->feed(buffer, len)) {
        parser->reset();
        reject(peer, Error::of(ErrorCode::kPayloadTooLarge, "request too large"));
        return;
      }
      if (parser->parse() != P::Http::Private::State::Done) {
        // A request line ends at its first CRLF; a parser still on that step
        // after seeing a line feed has been sent something that is not one
        // (e.g. no spaces) and would otherwise wait for more bytes forever.
        if (dynamic_cast<P::Http::Private::RequestLineStep*>(parser->step()) &&
            std::memchr(buffer, '\n', len) != nullptr) {
          throw std::invalid_argument("malformed request line");
        }
        return;
      }
    } catch (const std::exception&) {
      parser->reset();
      reject(peer, Error::of(ErrorCode::kValidation, "malformed HTTP request"));
      return;
    }
    serve(parser->request, peer);
    parser->reset();
  }

  void onRequest(const P::Http::Request&, P::Http::ResponseWriter) override {
    // Unused: onInput above dispatches requests itself.
  }

 private:
  // Parses the request here, on the reactor thread, and runs it on a worker.
  void serve(const P::Http::Request& in, const std::shared_ptr<P::Tcp::Peer>& peer) {
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
    auto* transport = this->transport();
    const auto version = in.version();
    shared_->run_on(strand_of(peer), [shared, req, early, close, peer, transport, version, started,
                                      handler = this]() mutable {
      Response res = early ? *early : dispatch(*shared->router, *req);
      // Decided now, not on arrival: a request that was in flight when
      // draining began must not leave its connection open.
      close = close || shared->draining.load();
      P::Http::ResponseWriter writer(version, transport, handler, peer);
      send(*shared, writer, res, req->request_id, close, peer);
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
  }

  // The connection's strand (created on its first request, on this thread).
  static std::shared_ptr<Strand> strand_of(const std::shared_ptr<P::Tcp::Peer>& peer) {
    static const std::string kKey = "fsm.strand";
    if (auto existing = peer->tryGetData(kKey)) return std::static_pointer_cast<Strand>(existing);
    auto strand = std::make_shared<Strand>();
    peer->putData(kKey, strand);
    return strand;
  }

  void reject(const std::shared_ptr<P::Tcp::Peer>& peer, const Error& error) {
    shared_->in_flight.fetch_add(1);
    const std::string id = new_uuid();
    P::Http::ResponseWriter writer(P::Http::Version::Http11, transport(), this, peer);
    const auto res = error_response(error, id);
    send(*shared_, writer, res, id, /*close=*/true, peer);
    log::info("request rejected", {{"status", res.status}, {"reason", error.message}}, id);
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

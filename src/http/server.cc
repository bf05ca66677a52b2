#include "http/server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <sys/socket.h>

#include "http/dispatch.h"
#include "http/framing.h"
#include "http/strand.h"
#include "http/worker_pool.h"
#include "http/writer.h"

namespace fsm::http {

namespace P = Pistache;

// The parts, wired together. `strand` and `writer` hand connections to each
// other, so each is given the other by reference (neither uses it before
// start()).
struct Server::Shared {
  Shared(const ServerConfig& c, const Router& router)
      : config(c),
        dispatch(router, draining),
        strand(config, lanes, in_flight, dispatch, writer),
        writer(config, strand, in_flight) {}

  const ServerConfig config;
  std::atomic<bool> draining{false};
  InFlight in_flight;
  Lanes lanes;
  Dispatch dispatch;
  Strand strand;
  Writer writer;
};

namespace {

constexpr int kSendBufferBytes = 256 * 1024;

// Pistache's side: it accepts connections and hands us their bytes, which
// are cut into requests here (framing.h) and submitted to their strand.
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
    shared_->writer.track(ref->connection);
    peer->putData(kKey, ref);
  }

  void onDisconnection(const std::shared_ptr<P::Tcp::Peer>& peer) override {
    if (auto c = connection_of(peer)) c->peer_gone = true;
  }

  void onInput(const char* buffer, size_t len, const std::shared_ptr<P::Tcp::Peer>& peer) override {
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
      std::string body =
          c->input.substr(frame.size - frame.head.content_length, frame.head.content_length);
      Work w = shared_->dispatch.route(std::move(frame.head), std::move(body), c->peer_ip);
      c->closing = w.close;  // nothing after a `close` request is read
      c->input.erase(0, frame.size);
      cut = true;
      if (!shared_->strand.submit(c, std::move(w))) c->closing = true;
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

  // Answers a request that cannot be read, after the answers to the ones
  // before it, and closes the connection.
  void reject(const std::shared_ptr<Connection>& c, const Frame& frame) {
    c->closing = true;  // what follows the bad request is not read
    c->input.clear();
    c->receiving_since = 0;
    shared_->strand.submit(c, Dispatch::refuse(frame, c->peer_ip));
  }

  std::shared_ptr<Server::Shared> shared_;
};

}  // namespace

Server::Server(ServerConfig config, const Router& router)
    : config_(std::move(config)), shared_(std::make_shared<Shared>(config_, router)) {}

Server::~Server() {
  if (endpoint_) endpoint_->shutdown();
  shared_->lanes.stop();
  shared_->writer.stop();
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
  shared_->lanes.start(config_.workers, config_.slow_workers);
  shared_->writer.start();
  endpoint_->serveThreaded();
  return static_cast<std::uint16_t>(endpoint_->getPort());
}

bool Server::draining() const {
  return shared_->draining.load();
}

int Server::drain_and_stop() {
  shared_->draining = true;
  const int left = shared_->in_flight.wait_for_none(config_.drain_timeout);
  if (endpoint_) {
    endpoint_->shutdown();
    endpoint_.reset();
  }
  shared_->lanes.stop();
  shared_->writer.stop();
  return left;
}

}  // namespace fsm::http

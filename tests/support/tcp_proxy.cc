#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <stdexcept>

#include "support/loopback.h"

namespace fsm::testing {

struct TcpProxy::Link {
  int client = -1;
  int server = -1;
  // Set before the chosen statement is forwarded: whatever the server sends
  // next is its answer, which is not relayed.
  std::atomic<bool> swallow{false};
  std::thread to_server;
  std::thread to_client;

  void close_both() const {
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(server, SHUT_RDWR);
  }
};

namespace {

// The startup packet's protocol version 3.0; SSLRequest and GSSENCRequest
// carry other codes in the same place and are followed by another packet.
constexpr std::uint32_t kProtocol3 = 196608;

std::uint32_t be32(const std::string& buf, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(buf[at + i]);
  return v;
}

// The NUL-terminated string at `at` in `payload`, and `at` moved past it.
std::string cstring(const std::string& payload, std::size_t& at) {
  const auto end = payload.find('\0', at);
  std::string s = payload.substr(at, end == std::string::npos ? std::string::npos : end - at);
  at = end == std::string::npos ? payload.size() : end + 1;
  return s;
}

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

int connect_to(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (auto* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

// The client's side of one connection, read message by message.
class ClientMessages {
 public:
  explicit ClientMessages(std::function<bool(std::string_view)> chosen)
      : chosen_(std::move(chosen)) {}

  // Reads the complete messages at the start of `buf`; returns how many bytes
  // they take. Sets `swallow` when one of them asks for the chosen statement.
  std::size_t scan(const std::string& buf, std::atomic<bool>& swallow) {
    std::size_t at = 0;
    for (;;) {
      const std::size_t header = started_ ? 5 : 4;
      if (buf.size() - at < header) return at;
      const std::size_t length = be32(buf, at + header - 4);
      const std::size_t total = header - 4 + length;
      if (length < 4 || buf.size() - at < total) return at;
      if (!started_) {
        started_ = length >= 8 && be32(buf, at + 4) == kProtocol3;
      } else {
        read(buf[at], buf.substr(at + 5, length - 4), swallow);
      }
      at += total;
    }
  }

 private:
  void read(char type, const std::string& payload, std::atomic<bool>& swallow) {
    std::size_t at = 0;
    switch (type) {
      case 'Q':  // simple query: answered as soon as it has run
        if (chosen_(cstring(payload, at))) swallow = true;
        break;
      case 'P': {  // parse: statement name, SQL
        std::string name = cstring(payload, at);
        statements_[name] = cstring(payload, at);
        break;
      }
      case 'B': {  // bind: portal name, statement name
        cstring(payload, at);
        const auto it = statements_.find(cstring(payload, at));
        bound_chosen_ = it != statements_.end() && chosen_(it->second);
        break;
      }
      case 'S':  // sync: the server answers (and commits) the execution
        if (bound_chosen_) swallow = true;
        bound_chosen_ = false;
        break;
      default:
        break;
    }
  }

  std::function<bool(std::string_view)> chosen_;
  bool started_ = false;
  std::map<std::string, std::string> statements_;
  bool bound_chosen_ = false;
};

}  // namespace

TcpProxy::TcpProxy(const std::string& database_url) {
  const auto scheme = database_url.find("://");
  if (scheme == std::string::npos) throw std::invalid_argument("proxy: not a URL: " + database_url);
  const auto authority = scheme + 3;
  const auto slash = database_url.find('/', authority);
  const auto end = slash == std::string::npos ? database_url.size() : slash;
  const auto at = database_url.rfind('@', end);
  const auto host_start = at == std::string::npos || at < authority ? authority : at + 1;
  const std::string host_port = database_url.substr(host_start, end - host_start);
  const auto colon = host_port.rfind(':');
  target_host_ = host_port.substr(0, colon);
  target_port_ = colon == std::string::npos ? "5432" : host_port.substr(colon + 1);

  listen_fd_ = listen_on_loopback();
  const std::string rest = database_url.substr(end);
  url_ = database_url.substr(0, host_start) +
         "127.0.0.1:" + std::to_string(local_port(listen_fd_)) + rest +
         (rest.find('?') == std::string::npos ? "?" : "&") + "sslmode=disable";
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  ::close(listen_fd_);
  for (auto& link : links_) {
    link->close_both();
    link->to_server.join();
    link->to_client.join();
    ::close(link->client);
    ::close(link->server);
  }
}

void TcpProxy::drop_after_next_commit() {
  arm([](std::string_view sql) { return sql == "COMMIT"; });
}

void TcpProxy::drop_after_next_statement(const std::string& fragment) {
  arm([fragment](std::string_view sql) { return sql.find(fragment) != std::string_view::npos; });
}

void TcpProxy::arm(Matcher matches) {
  std::lock_guard lock(mu_);
  armed_ = std::move(matches);
}

bool TcpProxy::take(std::string_view sql) {
  std::lock_guard lock(mu_);
  if (!armed_ || !armed_(sql)) return false;
  armed_ = nullptr;
  return true;
}

void TcpProxy::accept_loop() {
  while (!stopping_) {
    const int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    const int server = connect_to(target_host_, target_port_);
    if (server < 0) {
      ::close(client);
      continue;
    }
    std::lock_guard lock(mu_);
    auto& link = *links_.emplace_back(std::make_unique<Link>());
    link.client = client;
    link.server = server;
    link.to_server = std::thread([this, &link] { relay_to_server(link); });
    link.to_client = std::thread([this, &link] { relay_to_client(link); });
  }
}

void TcpProxy::relay_to_server(Link& link) {
  ClientMessages messages([this](std::string_view sql) { return take(sql); });
  std::string pending;
  char chunk[16384];
  for (;;) {
    const ssize_t n = ::recv(link.client, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(chunk, static_cast<std::size_t>(n));
    // Whole messages only, so the chosen one is recognised before it leaves.
    const std::size_t complete = messages.scan(pending, link.swallow);
    if (!send_all(link.server, pending.data(), complete)) break;
    pending.erase(0, complete);
  }
  link.close_both();
}

void TcpProxy::relay_to_client(Link& link) {
  char chunk[16384];
  for (;;) {
    const ssize_t n = ::recv(link.server, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    // The client sends its next statement only after the answer to the last
    // one, so once `swallow` is set, these bytes answer the chosen statement.
    if (link.swallow) {
      ++dropped_;
      break;
    }
    if (!send_all(link.client, chunk, static_cast<std::size_t>(n))) break;
  }
  link.close_both();
}

}  // namespace fsm::testing

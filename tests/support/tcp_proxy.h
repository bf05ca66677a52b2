// A TCP relay to PostgreSQL that can lose the answer to one chosen statement,
// for tests of what a client does when it cannot know whether its statement
// (above all its COMMIT) took effect.
//
// Armed, it forwards the chosen statement to the server, waits for the
// server's reply (so the statement has run, and committed), and closes both
// sides of that connection instead of relaying the reply. The client sees a
// connection lost in the middle of its statement: libpqxx reports an in-doubt
// COMMIT as pqxx::in_doubt_error, any other statement as broken_connection.
//
// It reads the client's messages just enough to recognise statements (the
// startup packet, then frames of a type byte and an int32 length): a simple
// Query ('Q') carries its SQL; an extended-protocol execution names in its
// Bind ('B') a statement whose SQL came in a Parse ('P'), and is answered
// after its Sync ('S'). The server's side is relayed unread. An encrypted
// stream cannot be read, so its url() says sslmode=disable.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fsm::testing {

class TcpProxy {
 public:
  // Relays a loopback port of its own to the server of `database_url`
  // (postgresql://user@host:port/db[?options]).
  explicit TcpProxy(const std::string& database_url);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // `database_url` through the proxy.
  const std::string& url() const { return url_; }

  // The next COMMIT sent as a simple query, on any connection, is run and its
  // answer lost.
  void drop_after_next_commit();
  // The same for the next statement, simple or prepared, whose SQL contains
  // `fragment`.
  void drop_after_next_statement(const std::string& fragment);
  // How many answers were lost so far.
  int dropped() const { return dropped_; }

  struct Link;

 private:
  using Matcher = std::function<bool(std::string_view sql)>;
  void arm(Matcher matches);
  void accept_loop();
  void relay_to_server(Link& link);
  void relay_to_client(Link& link);
  // Whether `sql` is the armed statement; disarms when it is.
  bool take(std::string_view sql);

  std::string target_host_;
  std::string target_port_;
  std::string url_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> dropped_{0};
  std::mutex mu_;
  Matcher armed_;  // empty: relay everything
  std::vector<std::unique_ptr<Link>> links_;
  std::thread acceptor_;
};

}  // namespace fsm::testing

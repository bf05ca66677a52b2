#include "support/test_env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>
#include <thread>

#include "events/heartbeat.h"
#include "events/migrator.h"

namespace fsm::testing {
namespace {

std::string replace_database(const std::string& url, const std::string& db) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return url + "/" + db;
  const auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

std::string random_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard lock(mu);
  static const char* kChars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 12; ++i) s.push_back(kChars[rng() % 36]);
  return s;
}

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs a shell command as the cluster owner (PostgreSQL refuses root).
int run_as_pg_owner(const std::string& cmd) {
  const std::string full =
      (::geteuid() == 0 ? "runuser -u postgres -- " : "") + cmd + " >/dev/null 2>&1";
  return std::system(full.c_str());
}

}  // namespace

std::string required_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    throw std::runtime_error(std::string(name) + " is not set: run the tests through ops/test");
  }
  return v;
}

// ---------------------------------------------------------------- TestDatabase

TestDatabase::TestDatabase()
    : admin_url_(required_env("FSM_TEST_DATABASE_URL")), name_("fsm_t_" + random_suffix()) {
  pqxx::connection admin(admin_url_);
  pqxx::nontransaction(admin).exec("CREATE DATABASE " + name_);
  url_ = replace_database(admin_url_, name_);
  events::migrate(url_);
  record_worker_pass(url_);
}

void record_worker_pass(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  events::record_heartbeat(tx, "test:fixture", 24 * 3600 * 1000, nlohmann::json::object());
  tx.commit();
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(admin_url_);
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warning: could not drop %s: %s\n", name_.c_str(), e.what());
  }
}

// ------------------------------------------------------------------- PgCluster

PgCluster::PgCluster() {
  std::string base = std::getenv("FSM_TEST_SCRATCH") ? std::getenv("FSM_TEST_SCRATCH") : "/tmp";
  std::string tmpl = base + "/cluster-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = buf.data();
  if (::geteuid() == 0) std::system(("chown postgres:postgres " + dir_).c_str());
  const std::string bin = required_env("FSM_PG_BIN");
  if (run_as_pg_owner(bin + "/initdb -D " + dir_ + "/data -U postgres -A trust") != 0) {
    throw std::runtime_error("initdb failed");
  }
  start();
}

PgCluster::~PgCluster() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PgCluster::run_pg_ctl(const std::string& args) {
  const std::string bin = required_env("FSM_PG_BIN");
  if (run_as_pg_owner(bin + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/log -w -t 60 " + args) !=
      0) {
    throw std::runtime_error("pg_ctl " + args + " failed");
  }
}

void PgCluster::start() {
  for (int attempt = 0;; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = free_tcp_port();
    try {
      run_pg_ctl("-o \"-p " + std::to_string(port_) + " -k " + dir_ +
                 " -c listen_addresses=127.0.0.1 -c fsync=off\" start");
      return;
    } catch (const std::exception&) {
      if (attempt >= 3) throw;
    }
  }
}

void PgCluster::stop() {
  const std::string bin = required_env("FSM_PG_BIN");
  run_as_pg_owner(bin + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop");
}

void PgCluster::pause() {
  const std::string pid = "$(head -1 " + dir_ + "/data/postmaster.pid)";
  std::system(("pkill -STOP -P " + pid + "; kill -STOP " + pid).c_str());
}

void PgCluster::resume() {
  const std::string pid = "$(head -1 " + dir_ + "/data/postmaster.pid)";
  std::system(("kill -CONT " + pid + "; pkill -CONT -P " + pid).c_str());
}

std::string PgCluster::url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

// ------------------------------------------------------------------ WebProcess

WebProcess::WebProcess(std::map<std::string, std::string> env, ProcessSpec spec) {
  const std::string bin = required_env(spec.bin_env);
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  env.emplace("PORT", "0");
  env.emplace("FSM_HTTP_HOST", "127.0.0.1");
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // Should the test process die without its destructors (a sanitizer
    // abort), the server dies too, instead of holding ctest's output pipe
    // open until the test timeout.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) std::_Exit(127);
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (auto& a : spec.args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    std::_Exit(127);
  }
  ::close(fds[1]);
  out_fd_ = fds[0];
  reader_ = std::thread([this] { reader_loop(); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    for (const auto& line : log_lines()) {
      if (line.value("msg", "") == spec.ready_msg) {
        ready = true;
        port_ = line.value("port", 0);
      }
    }
    int status = 0;
    if (!ready && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      reader_.join();
      throw std::runtime_error(bin + " exited during startup");
    }
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!ready) throw std::runtime_error(bin + " did not become ready");
}

bool WebProcess::running() {
  if (pid_ <= 0) return false;
  siginfo_t info{};
  // WNOWAIT: look without reaping, so terminate() still sees the status.
  return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == 0;
}

WebProcess::~WebProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (reader_.joinable()) reader_.join();  // ends at EOF, once the child is gone
  if (out_fd_ >= 0) ::close(out_fd_);
}

void WebProcess::reader_loop() {
  std::string buffer;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(out_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      auto j = nlohmann::json::parse(buffer.substr(0, nl), nullptr, false);
      buffer.erase(0, nl + 1);
      std::lock_guard lock(mu_);
      lines_.push_back(j.is_discarded() ? nlohmann::json{{"raw", "unparsable"}} : std::move(j));
    }
  }
}

std::vector<nlohmann::json> WebProcess::log_lines() {
  std::lock_guard lock(mu_);
  return lines_;
}

int WebProcess::terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      reader_.join();  // everything the process printed is in lines_ now
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return -1;
}

// ------------------------------------------------------------------ HttpClient

int connect_loopback(int port, int receive_buffer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  return fd;
}

HttpClient::HttpClient(int port) {
  fd_ = connect_loopback(port);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

HttpClient::~HttpClient() {
  if (fd_ >= 0) ::close(fd_);
}

void HttpClient::send_raw(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (e.g. after a 413)
    off += static_cast<std::size_t>(n);
  }
}

HttpResponse HttpClient::request(const std::string& method, const std::string& path,
                                 const std::string& body,
                                 const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    std::string lk = k;
    std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
    has_type = has_type || lk == "content-type";
  }
  if (!body.empty() && !has_type) req += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  send_raw(req);
  auto res = read_response();
  if (!res) throw std::runtime_error("connection closed before a response");
  return *res;
}

std::optional<HttpResponse> HttpClient::read_response(std::chrono::milliseconds timeout,
                                                      bool bodiless) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto fill = [&]() -> bool {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) throw std::runtime_error("timed out waiting for a response");
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return true;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  };
  std::size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return std::nullopt;
  }
  HttpResponse res;
  const std::string head = buffer_.substr(0, head_end);
  res.status = std::atoi(head.substr(9, 3).c_str());
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos < head.size()) {
    const std::size_t next = head.find("\r\n", pos + 2);
    const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                                            : next - pos - 2);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string k = line.substr(0, colon);
      std::transform(k.begin(), k.end(), k.begin(), ::tolower);
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      res.headers[k] = v;
    }
    pos = next;
  }
  const std::size_t length = !bodiless && res.headers.count("content-length")
                                 ? std::stoul(res.headers["content-length"])
                                 : 0;
  while (buffer_.size() < head_end + 4 + length) {
    if (!fill()) return std::nullopt;
  }
  res.body = buffer_.substr(head_end + 4, length);
  buffer_.erase(0, head_end + 4 + length);
  return res;
}

bool HttpClient::closed_by_server(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::poll(&p, 1, 50) > 0) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }
  return false;
}

}  // namespace fsm::testing

// Test fixtures over real PostgreSQL (never a mock of it).
//
//  - TestDatabase: a fresh, migrated database per test, dropped afterwards, so
//    tests run in parallel without seeing each other's rows.
//  - PgCluster: a private cluster a test may stop and start (outage tests).
//  - WebProcess: a started fsm-web on a free port, stopped with SIGTERM.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fsm::testing {

// Value of an environment variable ops/test sets; fails the test when absent.
std::string required_env(const char* name);

// Records in the database at `url` that a worker polling once a day has just
// completed a pass, so /api/health's `checks.worker` is ok: fixture data for
// tests about something else (the worker's own tests run fsm-worker).
void record_worker_pass(const std::string& url);

class TestDatabase {
 public:
  TestDatabase();  // creates and migrates (and record_worker_pass)
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

class PgCluster {
 public:
  PgCluster();  // initdb + start on a free port
  ~PgCluster();
  void stop();
  void start();
  // Freezes / thaws every server process (SIGSTOP / SIGCONT): a hung database.
  void pause();
  void resume();
  std::string url(const std::string& db = "postgres") const;

 private:
  void run_pg_ctl(const std::string& args);
  std::string dir_;
  int port_ = 0;
};

// Which binary a WebProcess runs: fsm-web by default, or fsm-worker.
struct ProcessSpec {
  const char* bin_env = "FSM_WEB_BIN";  // the variable naming the binary
  const char* ready_msg = "fsm-web ready";
  std::vector<std::string> args = {};
};
inline const ProcessSpec kWorkerProcess{"FSM_WORKER_BIN", "fsm-worker ready"};

class WebProcess {
 public:
  // Starts fsm-web with PORT=0 plus `env` (or the binary `spec` names),
  // waits for its "ready" log line.
  explicit WebProcess(std::map<std::string, std::string> env, ProcessSpec spec = {});
  ~WebProcess();
  WebProcess(const WebProcess&) = delete;
  WebProcess& operator=(const WebProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Whether the process is still running (not exited, not killed).
  bool running();
  // Sends SIGTERM and returns the exit status (-1 if it had to be killed).
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Log lines (parsed JSON) printed so far, including after terminate().
  std::vector<nlohmann::json> log_lines();

 private:
  // Drains the server's stdout continuously: a full pipe would block the
  // server on logging and look like a hang.
  void reader_loop();
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::vector<nlohmann::json> lines_;
  std::thread reader_;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

// A TCP connection to 127.0.0.1:`port` (throws when refused); `receive_buffer`
// bytes of SO_RCVBUF when not 0.
int connect_loopback(int port, int receive_buffer = 0);

// A blocking HTTP/1.1 client over one TCP connection: raw enough to send any
// bytes, and able to tell whether the server closed the connection.
class HttpClient {
 public:
  explicit HttpClient(int port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse request(const std::string& method, const std::string& path,
                       const std::string& body = "",
                       const std::vector<std::pair<std::string, std::string>>& headers = {});
  void send_raw(const std::string& bytes);
  // Reads one response; nullopt when the connection closed first. `bodiless`:
  // the answer to a HEAD, whose Content-Length describes a body not sent.
  std::optional<HttpResponse> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(10), bool bodiless = false);
  // True when the server has closed the connection (EOF within `timeout`).
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace fsm::testing

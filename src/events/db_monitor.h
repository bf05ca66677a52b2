// Watches whether PostgreSQL answers, for /api/health.
//
// A background thread runs `SELECT 1` on its own connection every interval,
// with non-blocking libpq calls and a hard deadline, so a hung server (not just
// a stopped one) is reported within the deadline and never blocks a request
// thread. A dropped connection is reopened on the next probe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace fsm::events {

class DbMonitor {
 public:
  DbMonitor(std::string conninfo, std::chrono::milliseconds interval,
            std::chrono::milliseconds timeout);
  ~DbMonitor();
  DbMonitor(const DbMonitor&) = delete;
  DbMonitor& operator=(const DbMonitor&) = delete;

  void start();
  void stop();

  // True when the last probe succeeded and is recent (younger than
  // interval + timeout + slack), so a stalled monitor never reports "ok".
  bool healthy() const;
  // True when, at the last successful probe, some fsm-worker had completed a
  // pass within 3 of its poll intervals (events/heartbeat.h).
  bool worker_alive() const { return healthy() && worker_ok_; }

  // One probe, synchronously, bounded by `timeout`. Used by the thread and tests.
  bool probe_once();

 private:
  void loop();

  const std::string conninfo_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds timeout_;
  struct Conn;
  Conn* conn_ = nullptr;  // owned; touched only by the probing thread

  std::atomic<bool> ok_{false};
  std::atomic<bool> worker_ok_{false};
  std::atomic<std::int64_t> last_ok_ms_{0};  // steady clock, ms
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fsm::events

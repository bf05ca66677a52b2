#include "events/db_monitor.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cstring>

#include "events/heartbeat.h"

namespace fsm::events {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// Waits until the socket is ready for `events` or the deadline passes.
bool wait_socket(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

struct DbMonitor::Conn {
  PGconn* pg = nullptr;
  ~Conn() {
    if (pg) PQfinish(pg);
  }
};

DbMonitor::DbMonitor(std::string conninfo, std::chrono::milliseconds interval,
                     std::chrono::milliseconds timeout)
    : conninfo_(std::move(conninfo)), interval_(interval), timeout_(timeout) {}

DbMonitor::~DbMonitor() {
  stop();
  delete conn_;
}

void DbMonitor::start() {
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void DbMonitor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool DbMonitor::healthy() const {
  if (!ok_.load()) return false;
  const auto max_age = interval_ + timeout_ + std::chrono::milliseconds(500);
  return steady_ms() - last_ok_ms_.load() <= max_age.count();
}

void DbMonitor::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    probe_once();
    lock.lock();
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

bool DbMonitor::probe_once() {
  const auto deadline = Clock::now() + timeout_;
  auto fail = [this] {
    delete conn_;
    conn_ = nullptr;
    ok_ = false;
    worker_ok_ = false;
    return false;
  };

  if (!conn_) {
    conn_ = new Conn;
    conn_->pg = PQconnectStart(conninfo_.c_str());
    if (!conn_->pg || PQstatus(conn_->pg) == CONNECTION_BAD) return fail();
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
      if (st == PGRES_POLLING_FAILED) return fail();
      const short ev = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
      if (!wait_socket(PQsocket(conn_->pg), ev, deadline)) return fail();
      st = PQconnectPoll(conn_->pg);
    }
    if (PQsetnonblocking(conn_->pg, 1) != 0) return fail();
  }

  PGconn* pg = conn_->pg;
  // The database answers, and (a second statement: its failure, say before
  // the migration that adds the table, leaves the first standing) whether a
  // worker passed lately.
  static const std::string probe = std::string("SELECT 1; ") + kWorkerAliveSql;
  if (PQstatus(pg) != CONNECTION_OK || !PQsendQuery(pg, probe.c_str())) return fail();
  for (;;) {  // flush the query
    const int f = PQflush(pg);
    if (f == 0) break;
    if (f < 0 || !wait_socket(PQsocket(pg), POLLOUT, deadline)) return fail();
  }
  bool good = false, worker = false;
  for (int n = 0;; ++n) {
    while (PQisBusy(pg)) {
      if (!wait_socket(PQsocket(pg), POLLIN, deadline)) return fail();
      if (!PQconsumeInput(pg)) return fail();
    }
    PGresult* res = PQgetResult(pg);
    if (!res) break;
    const bool tuples = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (n == 0) good = tuples;
    if (n == 1)
      worker = tuples && PQntuples(res) == 1 && std::strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
  }
  if (!good) return fail();
  worker_ok_ = worker;
  last_ok_ms_ = steady_ms();
  ok_ = true;
  return true;
}

}  // namespace fsm::events

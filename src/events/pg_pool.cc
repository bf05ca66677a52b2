#include "events/pg_pool.h"

#include <sys/socket.h>

#include <algorithm>

namespace fsm::events {

using Clock = std::chrono::steady_clock;

struct PgPool::Watched {
  std::mutex mu;
  bool active = true;  // false once the lease gave its connection back
  bool cut = false;
  int socket = -1;
  Clock::time_point deadline;
};

PgPool::PgPool(std::string conninfo, std::size_t size, PgPoolOptions options)
    : conninfo_(std::move(conninfo)), size_(size == 0 ? 1 : size), options_(options) {
  if (options_.statement_timeout.count() > 0) watchdog_ = std::thread([this] { watchdog(); });
}

PgPool::~PgPool() {
  {
    std::lock_guard lock(watch_mu_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void PgPool::add_preparer(Preparer preparer) { preparers_.push_back(std::move(preparer)); }

PgPool::Lease::Lease(PgPool* pool, std::unique_ptr<pqxx::connection> conn)
    : pool_(pool), conn_(std::move(conn)) {
  if (pool_->options_.statement_timeout.count() == 0) return;
  watched_ = std::make_shared<Watched>();
  watched_->socket = conn_->sock();
  watched_->deadline = Clock::now() + pool_->options_.statement_timeout + pool_->options_.cut_grace;
  std::lock_guard lock(pool_->watch_mu_);
  pool_->leases_.push_back(watched_);
}

PgPool::Lease::~Lease() {
  if (watched_) {
    std::lock_guard lock(watched_->mu);
    watched_->active = false;
  }
  if (pool_) pool_->release(std::move(conn_));
}

void PgPool::Lease::discard() {
  if (watched_) {
    std::lock_guard lock(watched_->mu);
    watched_->active = false;
  }
  conn_.reset();
}

bool PgPool::Lease::cut() const {
  if (!watched_) return false;
  std::lock_guard lock(watched_->mu);
  return watched_->cut;
}

// Cuts the connection of every lease past its deadline. A shut-down socket
// makes the blocked libpq call return at once with a broken connection.
void PgPool::watchdog() {
  std::unique_lock lock(watch_mu_);
  while (!stopping_) {
    watch_cv_.wait_for(lock, std::chrono::milliseconds(100));
    const auto now = Clock::now();
    std::erase_if(leases_, [now](const std::weak_ptr<Watched>& weak) {
      auto w = weak.lock();
      if (!w) return true;
      std::lock_guard guard(w->mu);
      if (!w->active) return true;
      if (now < w->deadline) return false;
      w->cut = true;
      ::shutdown(w->socket, SHUT_RDWR);
      return true;
    });
  }
}

std::unique_ptr<pqxx::connection> PgPool::connect() {
  try {
    auto conn = std::make_unique<pqxx::connection>(conninfo_);
    if (options_.statement_timeout.count() > 0) {
      pqxx::nontransaction(*conn).exec("SET statement_timeout = " +
                                       std::to_string(options_.statement_timeout.count()));
    }
    for (const auto& prepare : preparers_) prepare(*conn);
    return conn;
  } catch (const pqxx::broken_connection& e) {
    throw DbUnavailable(std::string("cannot connect to database: ") + e.what());
  }
}

PgPool::Lease PgPool::acquire() {
  std::unique_lock lock(mu_);
  const auto deadline = Clock::now() + options_.acquire_timeout;
  for (;;) {
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->is_open()) return Lease(this, std::move(conn));
      --leased_or_idle_;  // dropped by the server while idle
    }
    if (leased_or_idle_ < size_) {
      ++leased_or_idle_;
      lock.unlock();
      try {
        return Lease(this, connect());
      } catch (...) {
        lock.lock();
        --leased_or_idle_;
        cv_.notify_one();
        throw;
      }
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        leased_or_idle_ >= size_) {
      throw DbUnavailable("no database connection available within the acquire timeout");
    }
  }
}

void PgPool::release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard lock(mu_);
  if (conn && conn->is_open()) {
    idle_.push_back(std::move(conn));
  } else {
    --leased_or_idle_;
  }
  cv_.notify_one();
}

}  // namespace fsm::events

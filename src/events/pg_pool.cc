#include "events/pg_pool.h"

namespace fsm::events {

PgPool::PgPool(std::string conninfo, std::size_t size, std::chrono::milliseconds acquire_timeout)
    : conninfo_(std::move(conninfo)), size_(size == 0 ? 1 : size), acquire_timeout_(acquire_timeout) {}

PgPool::~PgPool() = default;

void PgPool::add_preparer(Preparer preparer) { preparers_.push_back(std::move(preparer)); }

PgPool::Lease::~Lease() {
  if (pool_) pool_->release(std::move(conn_));
}

std::unique_ptr<pqxx::connection> PgPool::connect() {
  try {
    auto conn = std::make_unique<pqxx::connection>(conninfo_);
    for (const auto& prepare : preparers_) prepare(*conn);
    return conn;
  } catch (const pqxx::broken_connection& e) {
    throw DbUnavailable(std::string("cannot connect to database: ") + e.what());
  }
}

PgPool::Lease PgPool::acquire() {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + acquire_timeout_;
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

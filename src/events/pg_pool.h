// A small PostgreSQL connection pool (libpqxx 6.4 has none).
//
// Connections are opened lazily, never shared between threads, and replaced when
// broken, so a database restart heals without restarting the process. Every new
// connection gets the registered prepared statements.
//
// Deadlines (fsm-web sets them): each statement has `statement_timeout`, so
// the server cancels one that runs or waits for a lock too long; and a lease
// held past that plus a grace is cut from our side (its socket shut down), so
// a database that does not answer at all (hung, SIGSTOPped, behind a dead
// link) cannot hold a request either. Both end as DbUnavailable: a 503.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fsm::events {

// The database cannot be reached (down, restarting, or the pool is exhausted
// for longer than the acquire timeout). Maps to 503 at the HTTP edge.
struct DbUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct PgPoolOptions {
  std::chrono::milliseconds acquire_timeout{5000};
  // 0: none. Otherwise every connection's statement_timeout, and a lease held
  // longer than this plus `cut_grace` has its connection cut.
  std::chrono::milliseconds statement_timeout{0};
  std::chrono::milliseconds cut_grace{2000};
};

class PgPool {
 public:
  using Preparer = std::function<void(pqxx::connection&)>;

  PgPool(std::string conninfo, std::size_t size, PgPoolOptions options = {});
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // The connection string (for work that needs a connection of its own).
  const std::string& conninfo() const { return conninfo_; }

  // Registers statements to prepare on every connection. Call before first use.
  void add_preparer(Preparer preparer);

  // A leased connection, watched for the lease deadline.
  struct Watched;
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<pqxx::connection> conn);
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          conn_(std::move(other.conn_)),
          watched_(std::move(other.watched_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() { return *conn_; }
    pqxx::connection* operator->() { return conn_.get(); }
    // The connection broke mid-use: close it instead of returning it to the pool.
    void discard();
    // Whether the deadline watchdog cut this lease's connection.
    bool cut() const;

   private:
    PgPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    std::shared_ptr<Watched> watched_;
  };

  Lease acquire();

  // Runs `fn(connection&)`. A connection that breaks is discarded and `fn` runs
  // once more on a fresh one, also after a COMMIT whose answer was lost (it may
  // have committed). So `fn` must be safe to repeat: a read, or a write that makes
  // its ids outside `fn` and first finds what it already did (commands::run).
  // Throws DbUnavailable when the database cannot be reached.
  template <typename Fn>
  auto run(Fn&& fn) {
    for (int attempt = 0;; ++attempt) {
      Lease lease = acquire();
      try {
        return fn(*lease);
      } catch (const pqxx::sql_error& e) {
        // 57014 query_canceled: statement_timeout passed.
        if (e.sqlstate() == "57014") throw DbUnavailable("a statement passed its deadline");
        throw;
      } catch (const pqxx::broken_connection& e) {
        lease.discard();
        if (lease.cut()) throw DbUnavailable("the database did not answer within the deadline");
        if (attempt >= 1) throw DbUnavailable(std::string("database connection lost: ") + e.what());
      } catch (const pqxx::in_doubt_error& e) {
        // The commit's outcome is unknown: the repeated `fn` must find out
        // whether it committed (see above).
        lease.discard();
        if (lease.cut()) throw DbUnavailable("the database did not answer within the deadline");
        if (attempt >= 1) throw DbUnavailable(std::string("commit outcome unknown: ") + e.what());
      }
    }
  }

  std::size_t size() const { return size_; }

 private:
  std::unique_ptr<pqxx::connection> connect();
  void release(std::unique_ptr<pqxx::connection> conn);
  void watchdog();

  const std::string conninfo_;
  const std::size_t size_;
  const PgPoolOptions options_;
  std::vector<Preparer> preparers_;

  // Leases past their deadline are cut by this thread (when a statement
  // timeout is set).
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  std::vector<std::weak_ptr<Watched>> leases_;
  bool stopping_ = false;
  std::thread watchdog_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t leased_or_idle_ = 0;  // connections that exist (idle + leased)
};

}  // namespace fsm::events

// Reads of the entity tables, answered as JSON built by PostgreSQL in the
// contract's shape (timestamps in UTC with milliseconds), always scoped to one
// account.
#pragma once

#include <mutex>
#include <optional>
#include <unordered_map>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "projections/entity_projector.h"

namespace fsm::projections {

// One entity as JSON text, or nullopt when it does not exist in the account
// (or, with `visible_to`, is not visible to that tech: see ListQuery).
std::optional<std::string> read_entity(pqxx::transaction_base& tx, const EntityTable& table,
                                       const std::string& account_id, const std::string& id,
                                       const std::string& visible_to = "");

// `column op value`; the column comes from a whitelist in code and the value
// has been validated for the column's type.
struct Condition {
  std::string column;
  std::string op;  // one of = < <= > >=
  std::string value;
};

struct ListQuery {
  std::vector<Condition> where;
  // A tech's user id: only the visits assigned to them, and the jobs that have
  // such a visit. Empty: everything in the account.
  std::string visible_to;
  std::string sort = "created_at";                          // whitelisted column
  bool descending = true;
  int limit = 20;
  int offset = 0;
};

struct ListPage {
  std::vector<std::string> rows;  // JSON texts
  long long total = 0;
};

// Totals of lists, each remembered with the database snapshot it was counted
// under (see list_entities). Bounded; thread-safe.
class TotalsCache {
 public:
  std::optional<long long> find(const std::string& key, const std::string& snapshot);
  void store(const std::string& key, const std::string& snapshot, long long total);

 private:
  static constexpr std::size_t kMaxEntries = 4096;
  std::mutex mu_;
  std::unordered_map<std::string, std::pair<std::string, long long>> entries_;
};

// `query`'s column names must come from a whitelist, never from the request.
// A page and its total: the total is counted only when the page does not
// show it and `totals` has no count under the very same snapshot.
ListPage list_entities(pqxx::transaction_base& tx, const EntityTable& table,
                       const std::string& account_id, const ListQuery& query,
                       TotalsCache* totals = nullptr);

// The SQL placeholder "$n".
std::string placeholder(std::size_t n);

// Runs `sql` as a prepared statement of the connection (prepared on first use).
pqxx::result exec_cached(pqxx::transaction_base& tx, const std::string& sql,
                         const std::vector<std::string>& params);

const EntityTable& entity_table(const std::string& stream_type);

// In a command's transaction: share-locks entity `id`'s stream and row, so no
// command on it (its deletion above all) commits before this transaction
// ends, and returns `column` of the row as text ("" for NULL); nullopt when
// the account has no such entity. `column` must come from code.
std::optional<std::string> share_entity(pqxx::transaction_base& tx, const EntityTable& table,
                                        const std::string& account_id, const std::string& id,
                                        const std::string& column = "id");

}  // namespace fsm::projections

namespace fsm::projections {

// Whether any row of `table` in the account has `column` = `id` (e.g. a job
// that references a client). Names come from code, never from a request.
bool is_referenced(pqxx::transaction_base& tx, const std::string& table, const std::string& column,
                   const std::string& account_id, const std::string& id);

}  // namespace fsm::projections

#include "projections/entity_reads.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "common/uuid.h"

namespace fsm::projections {
namespace {

void require_column(const EntityTable& t, const std::string& c) {
  if (c != "id" && std::find(t.columns.begin(), t.columns.end(), c) == t.columns.end()) {
    throw std::invalid_argument("not a column of " + t.table + ": " + c);
  }
}

// The condition that limits the table (alias `alias`) to what the tech `$n` may see.
std::string visibility(const EntityTable& t, std::size_t n, const std::string& alias) {
  const std::string p = placeholder(n) + "::uuid";
  if (t.table == "visits") return alias + ".assigned_user_id = " + p;
  if (t.table == "jobs") {
    return "EXISTS (SELECT 1 FROM visits v WHERE v.job_id = " + alias +
           ".id AND v.assigned_user_id = " + p + ")";
  }
  throw std::invalid_argument("no per-user visibility for " + t.table);
}

}  // namespace

std::string placeholder(std::size_t n) {
  // Appended piecewise: `"$" + std::to_string(n)` trips GCC 12's -Wrestrict
  // false positive at -O3.
  std::string p = "$";
  p += std::to_string(n);
  return p;
}

pqxx::result exec_cached(pqxx::transaction_base& tx, const std::string& sql,
                         const std::vector<std::string>& params) {
  // The name is derived from the text, so one text is prepared once per
  // connection (libpqxx ignores a redefinition with the same text).
  const std::string name = "fsm_q_" + sha256_hex(sql).substr(0, 24);
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(params));
}

std::optional<std::string> share_entity(pqxx::transaction_base& tx, const EntityTable& t,
                                        const std::string& account_id, const std::string& id,
                                        const std::string& column) {
  require_column(t, column);
  // Locking the row as well as the stream: should we wait on a command that
  // deletes the entity, the deleted row then drops out of the result, where
  // an unlocked row would still be seen as of the statement's snapshot.
  auto r = exec_cached(tx,
                       "SELECT coalesce(e." + column + "::text, '') FROM streams s JOIN " + t.table +
                           " e ON e.id = s.stream_id WHERE s.stream_id = $1::uuid"
                           " AND e.account_id = $2::uuid FOR SHARE",
                       {id, account_id});
  if (r.empty()) return std::nullopt;
  return std::string(r[0][0].c_str());
}

const EntityTable& entity_table(const std::string& stream_type) {
  for (const auto& t : entity_tables()) {
    if (t.stream_type == stream_type) return t;
  }
  throw std::invalid_argument("no table for " + stream_type);
}

std::optional<std::string> read_entity(pqxx::transaction_base& tx, const EntityTable& t,
                                       const std::string& account_id, const std::string& id,
                                       const std::string& visible_to) {
  const std::string sql = "SELECT " + row_json_sql(t) + " FROM " + t.table +
                          " t WHERE t.id = $1::uuid AND t.account_id = $2::uuid";
  auto r = visible_to.empty() ? exec_cached(tx, sql, {id, account_id})
                              : exec_cached(tx, sql + " AND " + visibility(t, 3, "t"),
                                            {id, account_id, visible_to});
  if (r.empty()) return std::nullopt;
  return std::string(r[0][0].c_str());
}

ListPage list_entities(pqxx::transaction_base& tx, const EntityTable& t,
                       const std::string& account_id, const ListQuery& q, TotalsCache* totals) {
  require_column(t, q.sort);
  // Column names are whitelisted by the caller and checked here; every value
  // is a parameter. `{t}` stands for the table's alias.
  std::vector<std::string> params = {account_id};
  std::string where = "{t}.account_id = $1::uuid";
  static const std::set<std::string> kOps = {"=", "<", "<=", ">", ">="};
  for (const auto& c : q.where) {
    require_column(t, c.column);
    if (!kOps.count(c.op)) throw std::invalid_argument("not a comparison: " + c.op);
    params.push_back(c.value);
    // The parameter takes the column's type (uuid, timestamptz, text).
    where += " AND {t}." + c.column + " " + c.op + " " + placeholder(params.size());
  }
  if (!q.visible_to.empty()) {
    params.push_back(q.visible_to);
    where += " AND " + visibility(t, params.size(), "{t}");
  }
  auto aliased = [&where](const std::string& alias) {
    std::string out = where;
    for (auto at = out.find("{t}"); at != std::string::npos; at = out.find("{t}", at)) {
      out.replace(at, 3, alias);
    }
    return out;
  };
  const std::string count_sql = "SELECT count(*) FROM " + t.table + " c WHERE " + aliased("c");
  // id breaks ties, so pages never overlap or skip rows with equal sort keys.
  const std::string dir = q.descending ? " DESC" : " ASC";
  const std::string from_where_order = " FROM " + t.table + " t WHERE " + aliased("t") +
                                       " ORDER BY t." + q.sort + dir + ", t.id" + dir + " LIMIT " +
                                       std::to_string(q.limit) + " OFFSET " +
                                       std::to_string(q.offset);
  std::string key = count_sql;
  for (const auto& p : params) key += '\x1f' + p;

  // The snapshot names exactly which transactions' rows the statement saw. A
  // total counted under an identical snapshot is still exact: any write since
  // (a command, a hand-run UPDATE, a rebuild) changes the snapshot.
  ListPage page;
  auto r = exec_cached(
      tx, "SELECT " + row_json_sql(t) + ", pg_current_snapshot()::text" + from_where_order, params);
  for (const auto& row : r) page.rows.emplace_back(row[0].c_str());
  if (q.offset == 0 && static_cast<int>(r.size()) < q.limit) {
    page.total = static_cast<long long>(r.size());  // the whole list is on this page
    return page;
  }
  if (r.empty()) {  // past the end: only the total is left to tell
    page.total = exec_cached(tx, count_sql, params)[0][0].as<long long>();
    return page;
  }
  if (totals) {
    if (auto hit = totals->find(key, r[0][1].c_str())) {
      page.total = *hit;
      return page;
    }
  }
  // Page and total again from one statement (one snapshot), so they agree.
  auto both = exec_cached(tx,
                          "SELECT " + row_json_sql(t) + ", pg_current_snapshot()::text, (" +
                              count_sql + ")" + from_where_order,
                          params);
  page.rows.clear();
  for (const auto& row : both) page.rows.emplace_back(row[0].c_str());
  if (both.empty()) {  // the rows went away in between
    page.total = exec_cached(tx, count_sql, params)[0][0].as<long long>();
    return page;
  }
  page.total = both[0][2].as<long long>();
  if (totals) totals->store(key, both[0][1].c_str(), page.total);
  return page;
}

std::optional<long long> TotalsCache::find(const std::string& key, const std::string& snapshot) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.first != snapshot) return std::nullopt;
  return it->second.second;
}

void TotalsCache::store(const std::string& key, const std::string& snapshot, long long total) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= kMaxEntries && !entries_.count(key)) entries_.clear();
  entries_[key] = {snapshot, total};
}

}  // namespace fsm::projections

namespace fsm::projections {

bool is_referenced(pqxx::transaction_base& tx, const std::string& table, const std::string& column,
                   const std::string& account_id, const std::string& id) {
  return !exec_cached(tx,
                      "SELECT 1 FROM " + table + " WHERE account_id = $1::uuid AND " + column +
                          " = $2::uuid LIMIT 1",
                      {account_id, id})
              .empty();
}

}  // namespace fsm::projections

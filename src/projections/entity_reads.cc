#include "projections/entity_reads.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace fsm::projections {
namespace {

std::string json_select(const EntityTable& t) {
  std::string out = "json_build_object('id', t.id";
  for (const auto& c : t.columns) {
    const bool stamp = std::find(t.timestamps.begin(), t.timestamps.end(), c) != t.timestamps.end();
    out += ", '" + c + "', ";
    out += stamp ? "to_char(t." + c + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                 : "t." + c;
  }
  return out + ")::text";
}

void require_column(const EntityTable& t, const std::string& c) {
  if (c != "id" && std::find(t.columns.begin(), t.columns.end(), c) == t.columns.end()) {
    throw std::invalid_argument("not a column of " + t.table + ": " + c);
  }
}

// The condition that limits `t` to what the tech `$n` may see.
std::string visibility(const EntityTable& t, std::size_t n) {
  const std::string p = "$" + std::to_string(n) + "::uuid";
  if (t.table == "visits") return "t.assigned_user_id = " + p;
  if (t.table == "jobs") {
    return "EXISTS (SELECT 1 FROM visits v WHERE v.job_id = t.id AND v.assigned_user_id = " + p +
           ")";
  }
  throw std::invalid_argument("no per-user visibility for " + t.table);
}

}  // namespace

const EntityTable& entity_table(const std::string& stream_type) {
  for (const auto& t : entity_tables()) {
    if (t.stream_type == stream_type) return t;
  }
  throw std::invalid_argument("no table for " + stream_type);
}

std::optional<std::string> read_entity(pqxx::transaction_base& tx, const EntityTable& t,
                                       const std::string& account_id, const std::string& id,
                                       const std::string& visible_to) {
  const std::string sql = "SELECT " + json_select(t) + " FROM " + t.table +
                          " t WHERE t.id = $1::uuid AND t.account_id = $2::uuid";
  auto r = visible_to.empty()
               ? tx.exec_params(sql, id, account_id)
               : tx.exec_params(sql + " AND " + visibility(t, 3), id, account_id, visible_to);
  if (r.empty()) return std::nullopt;
  return std::string(r[0][0].c_str());
}

ListPage list_entities(pqxx::transaction_base& tx, const EntityTable& t,
                       const std::string& account_id, const ListQuery& q) {
  require_column(t, q.sort);
  // Column names are whitelisted by the caller and checked here; every value
  // is a parameter.
  std::vector<std::string> params = {account_id};
  std::string where = "t.account_id = $1::uuid";
  static const std::set<std::string> kOps = {"=", "<", "<=", ">", ">="};
  for (const auto& c : q.where) {
    require_column(t, c.column);
    if (!kOps.count(c.op)) throw std::invalid_argument("not a comparison: " + c.op);
    params.push_back(c.value);
    // The parameter takes the column's type (uuid, timestamptz, text).
    where += " AND t." + c.column + " " + c.op + " $" + std::to_string(params.size());
  }
  if (!q.visible_to.empty()) {
    params.push_back(q.visible_to);
    where += " AND " + visibility(t, params.size());
  }
  // id breaks ties, so pages never overlap or skip rows with equal sort keys.
  const std::string dir = q.descending ? " DESC" : " ASC";
  auto r = tx.exec_params("SELECT " + json_select(t) + ", count(*) OVER () FROM " + t.table +
                              " t WHERE " + where + " ORDER BY t." + q.sort + dir + ", t.id" + dir +
                              " LIMIT " + std::to_string(q.limit) + " OFFSET " +
                              std::to_string(q.offset),
                          pqxx::prepare::make_dynamic_params(params));
  ListPage page;
  for (const auto& row : r) page.rows.emplace_back(row[0].c_str());
  if (!r.empty()) {
    page.total = r[0][1].as<long long>();
  } else if (q.offset > 0) {
    page.total = tx.exec_params("SELECT count(*) FROM " + t.table + " t WHERE " + where,
                                pqxx::prepare::make_dynamic_params(params))[0][0]
                     .as<long long>();
  }
  return page;
}

}  // namespace fsm::projections

namespace fsm::projections {

bool is_referenced(pqxx::transaction_base& tx, const std::string& table, const std::string& column,
                   const std::string& account_id, const std::string& id) {
  return !tx.exec_params("SELECT 1 FROM " + table + " WHERE account_id = $1::uuid AND " + column +
                             " = $2::uuid LIMIT 1",
                         account_id, id)
              .empty();
}

}  // namespace fsm::projections

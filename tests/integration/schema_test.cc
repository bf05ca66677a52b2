// The read tables as C++ defines them (projections/tables.h) against the
// schema the migrations create: a migration that adds, drops, renames or
// retypes a column without the definition (or the other way round) fails
// here, not in a projector statement at run time.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <regex>
#include <set>

#include "domain/automation.h"
#include "domain/estimate.h"
#include "domain/invoice.h"
#include "domain/job.h"
#include "domain/visit.h"
#include "projections/tables.h"
#include "support/test_env.h"

namespace fsm::projections {
namespace {

using Names = std::set<std::string>;

struct Shape {
  Names columns;
  Names timestamps;  // timestamptz
  friend bool operator==(const Shape&, const Shape&) = default;
};

void PrintTo(const Shape& s, std::ostream* os) {
  auto list = [os](const Names& n) {
    for (const auto& c : n) *os << c << ' ';
  };
  *os << "columns: ";
  list(s.columns);
  *os << "| timestamptz: ";
  list(s.timestamps);
}

Shape defined(const EntityTable& t) {
  const auto columns = stored_columns(t);
  return {Names(columns.begin(), columns.end()), Names(t.timestamps.begin(), t.timestamps.end())};
}

Shape defined(const ChildTable& t) {
  const auto columns = stored_columns(t);
  return {Names(columns.begin(), columns.end()), {}};
}

class SchemaTest : public ::testing::Test {
 protected:
  Shape migrated(const std::string& table) {
    Shape s;
    for (const auto& r :
         tx_.exec_params("SELECT column_name, data_type FROM information_schema.columns"
                         " WHERE table_schema = 'public' AND table_name = $1",
                         table)) {
      s.columns.insert(r[0].c_str());
      if (std::string(r[1].c_str()) == "timestamp with time zone")
        s.timestamps.insert(r[0].c_str());
    }
    return s;
  }

  // The values CHECK constraints on `table`.`column` list, when it has one.
  std::optional<Names> checked_values(const std::string& table, const std::string& column) {
    auto rows = tx_.exec_params(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
        " WHERE c.conrelid = $1::regclass AND c.contype = 'c' AND a.attname = $2",
        table, column);
    if (rows.empty()) return std::nullopt;
    Names values;
    const std::regex literal("'([^']*)'");
    for (const auto& r : rows) {
      const std::string def = r[0].c_str();
      for (std::sregex_iterator m(def.begin(), def.end(), literal), end; m != end; ++m) {
        values.insert((*m)[1]);
      }
    }
    return values;
  }

  testing::TestDatabase db_;
  pqxx::connection conn_{db_.url()};
  pqxx::work tx_{conn_};
};

TEST_F(SchemaTest, EveryReadTableIsDefinedAsTheMigrationsCreateIt) {
  std::vector<std::string> checked;
  auto check = [&](const std::string& table, const Shape& shape) {
    SCOPED_TRACE(table);
    const Shape live = migrated(table);
    ASSERT_FALSE(live.columns.empty()) << "no such table";
    EXPECT_EQ(shape, live);
    checked.push_back(table);
  };
  for (const auto& t : entity_tables()) {
    check(t.table, defined(t));
    if (t.line_items) check(t.line_items->table, defined(*t.line_items));
  }
  check(payments_table().table, defined(payments_table()));
  check(audit_log_table().table, defined(audit_log_table()));
  EXPECT_EQ(checked, projection_tables()) << "a replay produces exactly these";
}

// The audit row is computed by SQL (db/007) and inserted by its column names.
TEST_F(SchemaTest, TheAuditFunctionAnswersTheAuditLogsColumns) {
  Names answered;
  for (const auto& r :
       tx_.exec("SELECT p.parameter_name FROM information_schema.routines f"
                " JOIN information_schema.parameters p ON p.specific_name = f.specific_name"
                " WHERE f.routine_schema = 'public' AND f.routine_name = 'audit_log_row'"
                " AND p.parameter_mode = 'OUT'")) {
    answered.insert(r[0].c_str());
  }
  EXPECT_EQ(answered, defined(audit_log_table()).columns);
}

// Where the schema constrains a column to a list, it is the code's list.
TEST_F(SchemaTest, CheckConstraintsAllowExactlyTheCodesValues) {
  const auto& actions = audit_actions();
  const auto audit = checked_values("audit_log", "action");
  ASSERT_TRUE(audit.has_value()) << "audit_log.action has no CHECK";
  EXPECT_EQ(*audit, Names(actions.begin(), actions.end()));
  const auto& types = domain::automation::types();
  const auto automation_types = checked_values("automations", "type");
  ASSERT_TRUE(automation_types.has_value()) << "automations.type has no CHECK";
  EXPECT_EQ(*automation_types, Names(types.begin(), types.end()));
  // No CHECK constrains these today; one added by a migration must agree.
  for (const auto& [table, statuses] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"jobs", domain::job::statuses()},
           {"visits", domain::visit::statuses()},
           {"estimates", domain::estimate::statuses()},
           {"invoices", domain::invoice::statuses()}}) {
    if (auto values = checked_values(table, "status")) {
      EXPECT_EQ(*values, Names(statuses.begin(), statuses.end())) << table;
    }
  }
}

}  // namespace
}  // namespace fsm::projections

// fsm-worker's pass against real PostgreSQL, with an injected clock:
// reminders and follow-ups exactly once (again, with two workers at once,
// after kill -9), overdue and expiry transitions, a disabled automation.
#include "worker/worker.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <thread>

#include "commands/accounts.h"
#include "commands/services.h"
#include "common/time.h"
#include "common/uuid.h"
#include "domain/automation.h"
#include "domain/client.h"
#include "domain/document.h"
#include "domain/estimate.h"
#include "domain/invoice.h"
#include "domain/job.h"
#include "domain/notification.h"
#include "domain/visit.h"
#include "events/heartbeat.h"
#include "support/test_env.h"

namespace fsm::worker {
namespace {

using nlohmann::json;
using std::chrono::hours;
namespace notification = domain::notification;

constexpr auto kDay = hours(24);

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    pool_ = make_pool();
    commands::PasswordHasher hasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, 1);
    auto account = commands::create_account(
        *pool_, hasher, {"Acme", "owner@acme.test", "Owner", "correct horse battery"}, "t");
    ASSERT_TRUE(account) << account.error().message;
    owner_ = {account->account_id, account->owner_id, "owner", "t"};
    client_ = created(
        commands::client::create(ctx(), valid({{"name", "Client"}}, domain::client::fields())));
    job_ = created(commands::job::create(
        ctx(), valid({{"client_id", client_}, {"title", "Boiler"}}, domain::job::create_fields())));
  }

  std::unique_ptr<events::PgPool> make_pool() {
    auto p = std::make_unique<events::PgPool>(db_.url(), 3);
    p->add_preparer(commands::prepare);
    return p;
  }
  commands::Context ctx() { return {*pool_, owner_}; }

  static json valid(const json& body, const std::vector<domain::FieldSpec>& specs) {
    auto v = domain::validate_body(body, specs, domain::Mode::kCreate);
    EXPECT_TRUE(v) << body.dump()
                   << (v ? ""
                         : " " + v.error().message + " " +
                               nlohmann::json(
                                   v.error().issues.empty() ? "" : v.error().issues.front().message)
                                   .dump());
    return v ? *v : json();
  }
  // An estimate's or invoice's body, line items included.
  static json valid_document(const json& body, const std::vector<domain::FieldSpec>& specs) {
    auto v = domain::document::validate(body, specs, domain::Mode::kCreate);
    EXPECT_TRUE(v) << body.dump();
    return v ? *v : json();
  }
  static std::string created(const Result<commands::Outcome>& outcome) {
    EXPECT_TRUE(outcome) << (outcome ? "" : outcome.error().message);
    return outcome ? outcome->events.front().stream_id : "";
  }

  std::string visit_at(Timestamp start) {
    return created(
        commands::visit::create(ctx(), job_,
                                valid({{"scheduled_start", format_rfc3339(start)},
                                       {"scheduled_end", format_rfc3339(start + hours(1))}},
                                      domain::visit::create_fields())));
  }
  std::string automation(const std::string& type, json config, bool enabled = true) {
    return created(commands::automation::create(
        ctx(), valid({{"type", type},
                      {"enabled", enabled},
                      {"config", std::move(config)},
                      {"next_run_at", format_rfc3339(now_ - hours(1))}},
                     domain::automation::create_fields())));
  }
  // A sent invoice of 100.00 due at `due`.
  std::string invoice_due(Timestamp due) {
    const auto id = created(commands::invoice::create(
        ctx(), valid_document(
                   {{"client_id", client_},
                    {"due_date", format_rfc3339(due)},
                    {"line_items",
                     {{{"description", "Valve"}, {"quantity", 1}, {"unit_price_cents", 10000}}}}},
                   domain::invoice::create_fields())));
    EXPECT_TRUE(commands::invoice::transition(ctx(), {id}, "sent"));
    return id;
  }

  PassSummary pass() {
    return Worker(*pool_, [this] { return now_; }).pass();
  }
  long long count(const std::string& sql) {
    pqxx::connection conn(db_.url());
    return pqxx::nontransaction(conn).exec1(sql)[0].as<long long>();
  }
  long long events_of(const std::string& type) {
    return count("SELECT count(*) FROM events WHERE event_type = '" + type + "'");
  }

  testing::TestDatabase db_;
  std::unique_ptr<events::PgPool> pool_;
  commands::Actor owner_;
  std::string client_, job_;
  Timestamp now_ = std::chrono::time_point_cast<std::chrono::microseconds>(now()) + kDay;
};

TEST_F(WorkerTest, AVisitDueGetsOneReminderEverAndTheRunIsRecorded) {
  const auto visit = visit_at(now_ + hours(2));
  visit_at(now_ + hours(30));  // beyond hours_before
  const auto id = automation("visit_reminder", {{"hours_before", 24}});

  const auto first = pass();
  EXPECT_EQ(first.due, 1);
  EXPECT_EQ(first.sent, 1);
  EXPECT_EQ(events_of("VisitReminderCreated"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE entity_type = 'visit_reminder' AND "
                  "action = 'insert' AND actor_id = 'system:worker' AND entity_id = '" +
                  visit + "'"),
            1)
      << "the runbook's query finds it, by the visit";
  EXPECT_EQ(count("SELECT count(*) FROM automations WHERE id = '" + id +
                  "' AND last_run_at IS NOT NULL AND next_run_at > last_run_at"),
            1);

  now_ += hours(1) + std::chrono::minutes(1);  // due again; the visit is still ahead
  const auto second = pass();
  EXPECT_EQ(second.due, 1);
  EXPECT_EQ(second.sent, 0);
  EXPECT_EQ(events_of("VisitReminderCreated"), 1) << "at most one per visit, ever";
}

TEST_F(WorkerTest, TwoWorkersStartedTogetherSendOneReminder) {
  for (int i = 0; i < 20; ++i) visit_at(now_ + hours(1) + std::chrono::minutes(i));
  automation("visit_reminder", {{"hours_before", 24}});
  std::barrier start(2);
  std::vector<PassSummary> summaries(2);
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      auto pool = make_pool();
      pool->acquire();
      start.arrive_and_wait();
      summaries[w] = Worker(*pool, [this] { return now_; }).pass();
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(summaries[0].sent + summaries[1].sent, 20);
  EXPECT_EQ(events_of("VisitReminderCreated"), 20);
  EXPECT_EQ(events_of("AutomationRan"), 1) << "one of them ran it";
}

TEST_F(WorkerTest, TheLogRefusesASecondReminderEvenWhenTheQueryMissesIt) {
  // Two passes that both believe the visit is unreminded: the store decides.
  const auto visit = visit_at(now_ + hours(2));
  const auto stream = notification::reminder_stream_id(visit);
  std::barrier start(8);
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto pool = make_pool();
      pool->acquire();
      const auto actor = system_actor(owner_.account_id, "t");
      start.arrive_and_wait();
      const bool ok = pool->run([&](pqxx::connection& conn) {
        pqxx::work tx(conn);
        auto appended = commands::append_and_project(
            tx, actor, stream, notification::kReminder.stream_type, 0,
            {notification::reminder({visit, job_, "Boiler", now_ + hours(2), std::nullopt}, "a",
                                    24)});
        if (!appended) return false;
        tx.commit();
        return true;
      });
      if (ok) ++created;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(events_of("VisitReminderCreated"), 1);
}

TEST_F(WorkerTest, FollowUpsOnePerReachedStepAndTheThirdAtDay31) {
  const auto inv = invoice_due(now_ - 15 * kDay);
  automation("invoice_followup", {{"days_overdue", {7, 14, 30}}});
  const auto first = pass();
  EXPECT_EQ(first.sent, 2);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE entity_type = 'invoice_followup' AND "
                  "action = 'insert' AND entity_id = '" +
                  inv + "'"),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM invoices WHERE id = '" + inv + "' AND status = 'overdue'"),
            1)
      << "past its due date: overdue, by the worker";

  now_ += hours(2);
  EXPECT_EQ(pass().sent, 0);
  now_ += 16 * kDay;  // day 31
  EXPECT_EQ(pass().sent, 1);
  EXPECT_EQ(events_of("InvoiceFollowupCreated"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE event_type = 'InvoiceFollowupCreated' AND "
                  "stream_id = '" +
                  notification::followup_stream_id(inv, 30) + "'"),
            1);
}

TEST_F(WorkerTest, ADisabledAutomationSendsNothing) {
  visit_at(now_ + hours(2));
  invoice_due(now_ - 40 * kDay);
  automation("visit_reminder", {{"hours_before", 24}}, false);
  automation("invoice_followup", {{"days_overdue", {7}}}, false);
  const auto s = pass();
  EXPECT_EQ(s.due, 0);
  EXPECT_EQ(s.sent, 0);
  EXPECT_EQ(events_of("VisitReminderCreated") + events_of("InvoiceFollowupCreated"), 0);
}

// A corrupt row (its config edited past the triggers) fails its automation
// only: the error names it, the other automation runs and is recorded, and
// the failed one stays due for the next pass.
TEST_F(WorkerTest, OneFailingAutomationDoesNotBlockTheOthers) {
  visit_at(now_ + hours(2));
  const auto broken = automation("invoice_followup", {{"days_overdue", {7}}});
  const auto fine = automation("visit_reminder", {{"hours_before", 24}});
  {
    pqxx::connection conn(db_.url());
    pqxx::work tx(conn);
    tx.exec("ALTER TABLE automations DISABLE TRIGGER ALL");
    tx.exec("UPDATE automations SET config = '{\"days_overdue\": \"soon\"}' WHERE id = '" + broken +
            "'");
    tx.exec("ALTER TABLE automations ENABLE TRIGGER ALL");
    tx.commit();
  }
  const auto s = pass();
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.sent, 1) << "the reminder automation ran";
  EXPECT_EQ(count("SELECT count(*) FROM automations WHERE id = '" + fine +
                  "' AND last_run_at IS NOT NULL"),
            1);
  EXPECT_EQ(
      count("SELECT count(*) FROM automations WHERE id = '" + broken + "' AND last_run_at IS NULL"),
      1)
      << "not recorded: still due";
}

TEST_F(WorkerTest, SentEstimatesPastExpiryExpireAndPaidInvoicesStay) {
  const auto est = created(commands::estimate::create(
      ctx(),
      valid_document({{"client_id", client_},
                      {"expires_at", format_rfc3339(now_ - kDay)},
                      {"line_items",
                       {{{"description", "Valve"}, {"quantity", 1}, {"unit_price_cents", 500}}}}},
                     domain::estimate::create_fields())));
  ASSERT_TRUE(commands::estimate::transition(ctx(), {est}, "sent"));
  const auto paid = invoice_due(now_ - kDay);
  ASSERT_TRUE(commands::invoice::record_payment(
      ctx(), {paid},
      valid({{"amount_cents", 10000}, {"method", "cash"}}, domain::invoice::payment_fields()),
      new_uuid()));
  const auto s = pass();
  EXPECT_EQ(s.transitions, 1);
  EXPECT_EQ(count("SELECT count(*) FROM estimates WHERE status = 'expired'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM invoices WHERE status = 'paid'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE entity_id = '" + est +
                  "' AND actor_id = 'system:worker' AND new_value->>'status' = 'expired'"),
            1);
}

TEST_F(WorkerTest, TheDerivedIdsOfSqlAndCppAgree) {
  const std::string visit = "0190a5c4-1111-7222-8333-444455556666";
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT fsm_derived_uuid('visit_reminder:" + visit +
                  "')::text AS id) d WHERE id = '" + notification::reminder_stream_id(visit) + "'"),
            1);
}

// A real process killed (SIGKILL) while it creates reminders: the next pass
// creates the rest, none twice.
TEST_F(WorkerTest, KillNineMidPassThenAPassSendsNothingTwice) {
  constexpr int kVisits = 300;
  const Timestamp real_now = std::chrono::time_point_cast<std::chrono::microseconds>(now());
  now_ = real_now;
  for (int i = 0; i < kVisits; ++i) visit_at(real_now + hours(2) + std::chrono::seconds(i));
  automation("visit_reminder", {{"hours_before", 24}});
  const std::string bin = testing::required_env("FSM_WORKER_BIN");
  auto run_once = [&] {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("DATABASE_URL", db_.url().c_str(), 1);
      setenv("LOG_LEVEL", "error", 1);
      execl(bin.c_str(), bin.c_str(), "--once", nullptr);
      _exit(127);
    }
    return pid;
  };
  const pid_t first = run_once();
  while (events_of("VisitReminderCreated") < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(first, SIGKILL);
  int status = 0;
  waitpid(first, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  const auto before = events_of("VisitReminderCreated");
  ASSERT_LT(before, kVisits) << "killed mid-pass";
  EXPECT_EQ(count("SELECT count(*) FROM automations WHERE last_run_at IS NULL"), 1)
      << "its run was not recorded";

  const pid_t second = run_once();
  waitpid(second, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(events_of("VisitReminderCreated"), kVisits);
  EXPECT_EQ(count("SELECT count(DISTINCT data->>'visit_id') FROM events "
                  "WHERE event_type = 'VisitReminderCreated'"),
            kVisits);
  EXPECT_EQ(count("SELECT count(*) FROM automations WHERE last_run_at IS NOT NULL"), 1);
}

}  // namespace
}  // namespace fsm::worker

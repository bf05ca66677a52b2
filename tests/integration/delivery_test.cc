// Delivery against real PostgreSQL, to a real local HTTP receiver (or, where
// the test is about Delivery's own decisions, a GoogleMock notifier):
// once per notification with its event id as Idempotency-Key, in log order
// through failures and recoveries, outcomes recorded in the log and the
// audit log, nothing sent again after a rebuild or by a second Delivery
// running at once.
#include "worker/delivery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "commands/command_runner.h"
#include "common/uuid.h"
#include "domain/notification.h"
#include "events/pg_event_store.h"
#include "mocks/mock_notifier.h"
#include "projections/replay.h"
#include "support/http_receiver.h"
#include "support/test_env.h"

namespace fsm::worker {
namespace {

namespace notification = domain::notification;
using nlohmann::json;
using std::chrono::milliseconds;
using ::testing::_;
using ::testing::Field;
using testing::HttpReceiver;
using ::testing::Invoke;
using ::testing::Return;
using Steady = std::chrono::steady_clock;

Attempt delivered() {
  Attempt a;
  a.delivered = true;
  a.http_status = 200;
  return a;
}

Attempt unavailable() {
  Attempt a;
  a.http_status = 503;
  a.error = "HTTP 503";
  return a;
}

class DeliveryTest : public ::testing::Test {
 protected:
  std::unique_ptr<events::PgPool> make_pool() {
    auto pool = std::make_unique<events::PgPool>(db_.url(), 2);
    pool->add_preparer(commands::prepare);
    return pool;
  }

  // Options for tests: a short backoff, so a retry comes within the test.
  static DeliveryOptions quick() {
    DeliveryOptions o;
    o.backoff = [](int) { return milliseconds(1); };
    return o;
  }

  // Appends a reminder for a new visit as the worker's pass does (a stream
  // of its own, account in the metadata); its Created event.
  events::RecordedEvent remind() {
    notification::Visit visit{new_uuid(), new_uuid(), "Boiler service",
                              now() + std::chrono::hours(2), std::nullopt};
    return create(notification::kReminder, notification::reminder_stream_id(visit.id),
                  notification::reminder(visit, automation_, 24));
  }

  events::RecordedEvent follow_up() {
    notification::OverdueInvoice invoice{new_uuid(), "INV-0042", new_uuid(),
                                         now() - std::chrono::hours(24 * 15), 12500};
    return create(notification::kFollowup, notification::followup_stream_id(invoice.id, 14),
                  notification::followup(invoice, automation_, 14));
  }

  events::RecordedEvent create(const domain::Kind& kind, const std::string& stream_id,
                               const domain::DomainEvent& event) {
    commands::Actor actor;
    actor.account_id = account_;
    return pool_->run([&](pqxx::connection& conn) {
      pqxx::work tx(conn);
      auto recorded =
          commands::append_and_project(tx, actor, stream_id, kind.stream_type, 0, {event});
      tx.commit();
      return recorded.value().front();
    });
  }

  std::vector<events::RecordedEvent> stream(const std::string& stream_id) {
    return pool_->run([&](pqxx::connection& conn) {
      pqxx::read_transaction tx(conn);
      return events::PgEventStore::read_stream_in(tx, stream_id, std::nullopt);
    });
  }

  std::vector<std::string> types(const std::string& stream_id) {
    std::vector<std::string> out;
    for (const auto& e : stream(stream_id)) out.push_back(e.type);
    return out;
  }

  bool settled(const std::string& stream_id) {
    auto s = stream(stream_id);
    return s.back().type.ends_with("Delivered") || s.back().data.value("final", false);
  }

  // Steps until `done()`, within a deadline: the gap-safe read holds events
  // back while older transactions of the cluster (other tests') are open,
  // so an event may need a few polls to arrive. Returns the steps' sum.
  static StepResult step_until(Delivery& d, const std::function<bool()>& done) {
    StepResult total;
    const auto deadline = Steady::now() + std::chrono::seconds(60);
    while (!done() && Steady::now() < deadline) {
      const StepResult r = d.step();
      total += r;
      if (r.events == 0 || r.retry_after) std::this_thread::sleep_for(milliseconds(5));
    }
    EXPECT_TRUE(done()) << "not done within the deadline";
    return total;
  }

  json audit_row(const std::string& event_id) {
    pqxx::connection c(db_.url());
    const auto rows = pqxx::nontransaction(c).exec_params(
        "SELECT to_jsonb(a) FROM audit_log a WHERE id = $1::uuid", event_id);
    return rows.empty() ? json() : json::parse(rows[0][0].c_str());
  }

  testing::TestDatabase db_;
  std::unique_ptr<events::PgPool> pool_ = make_pool();
  std::string account_ = new_uuid();
  std::string automation_ = new_uuid();
  HttpReceiver receiver_;
  HttpNotifier http_{receiver_.url("/fsm-topic"), std::chrono::seconds(5)};
};

TEST_F(DeliveryTest, DeliversEachNotificationOnceWithItsEventIdAsIdempotencyKey) {
  const auto reminder = remind();
  const auto followup = follow_up();
  Delivery delivery(*pool_, http_, quick());
  const StepResult r = step_until(
      delivery, [&] { return settled(reminder.stream_id) && settled(followup.stream_id); });
  EXPECT_EQ(r.delivered, 2u);
  EXPECT_EQ(r.failed, 0u);

  const auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].headers.at("idempotency-key"), reminder.event_id);
  EXPECT_EQ(requests[1].headers.at("idempotency-key"), followup.event_id);
  EXPECT_EQ(json::parse(requests[1].body)["message"], "Invoice INV-0042 is 14 days overdue");

  auto s = stream(reminder.stream_id);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].type, "VisitReminderDelivered");
  EXPECT_EQ(s[1].data["attempt"], 1);
  EXPECT_EQ(s[1].data["http_status"], 200);
  EXPECT_EQ(s[1].data["entity_id"], reminder.data["visit_id"]);
  EXPECT_EQ(s[1].metadata["account_id"], account_);
  EXPECT_EQ(s[1].metadata["actor_id"], commands::kWorkerActor);
  EXPECT_EQ(types(followup.stream_id),
            (std::vector<std::string>{"InvoiceFollowupCreated", "InvoiceFollowupDelivered"}));

  json audit = audit_row(s[1].event_id);
  ASSERT_TRUE(audit.is_object()) << "no audit_log row for the Delivered event";
  EXPECT_EQ(audit["entity_type"], "visit_reminder");
  EXPECT_EQ(audit["event_type"], "VisitReminderDelivered");
  EXPECT_EQ(audit["account_id"], account_);
  EXPECT_EQ(audit["actor_id"], commands::kWorkerActor);
  EXPECT_EQ(audit["entity_id"], reminder.data["visit_id"]);
  EXPECT_EQ(audit["action"], "update");

  // Everything is delivered: more polls, or a restarted Delivery, send nothing.
  delivery.run_until_idle();
  Delivery restarted(*pool_, http_, quick());
  restarted.run_until_idle();
  EXPECT_EQ(receiver_.requests().size(), 2u);
}

TEST_F(DeliveryTest, AFailureForNowIsRecordedAndRetriedAndHoldsBackTheNextOne) {
  const auto first = remind();
  const auto second = remind();
  receiver_.answer_next({503, HttpReceiver::kHangUp});
  Delivery delivery(*pool_, http_, quick());
  const StepResult r = step_until(delivery, [&] { return settled(second.stream_id); });
  EXPECT_EQ(r.delivered, 2u);

  // The first was tried three times before the second was tried at all.
  std::vector<std::string> keys;
  for (const auto& req : receiver_.requests()) keys.push_back(req.headers.at("idempotency-key"));
  EXPECT_EQ(keys, (std::vector<std::string>{first.event_id, first.event_id, first.event_id,
                                            second.event_id}));
  auto s = stream(first.stream_id);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[1].type, "VisitReminderDeliveryFailed");
  EXPECT_EQ(s[1].data["attempt"], 1);
  EXPECT_EQ(s[1].data["http_status"], 503);
  EXPECT_EQ(s[1].data["final"], false);
  EXPECT_EQ(s[2].type, "VisitReminderDeliveryFailed");
  EXPECT_EQ(s[2].data["attempt"], 2);
  EXPECT_FALSE(s[2].data.contains("http_status"));  // no answer
  EXPECT_EQ(s[2].data["final"], false);
  EXPECT_EQ(s[3].type, "VisitReminderDelivered");
  EXPECT_EQ(s[3].data["attempt"], 3);
  EXPECT_TRUE(audit_row(s[1].event_id).is_object());
  EXPECT_EQ(types(second.stream_id),
            (std::vector<std::string>{"VisitReminderCreated", "VisitReminderDelivered"}));
}

TEST_F(DeliveryTest, AFailureForGoodIsFinalAndTheNextOneProceeds) {
  const auto refused = remind();
  const auto next = follow_up();
  receiver_.answer_next({400});
  Delivery delivery(*pool_, http_, quick());
  const StepResult r = step_until(delivery, [&] { return settled(next.stream_id); });
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.delivered, 1u);
  EXPECT_FALSE(r.retry_after);

  auto s = stream(refused.stream_id);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].type, "VisitReminderDeliveryFailed");
  EXPECT_EQ(s[1].data["final"], true);
  EXPECT_EQ(s[1].data["http_status"], 400);
  EXPECT_EQ(s[1].data["error"], "HTTP 400");
  delivery.run_until_idle();
  EXPECT_EQ(receiver_.count_by_key(),
            (std::map<std::string, int>{{refused.event_id, 1}, {next.event_id, 1}}));
}

// The wait before the next attempt is read from the log: a Delivery started
// after the failure (a restart, another worker) keeps it.
TEST_F(DeliveryTest, TheNextAttemptWaitsForItsBackoffAcrossARestart) {
  const auto reminder = remind();
  ::testing::StrictMock<testing::MockNotifier> notifier;
  DeliveryOptions slow;
  slow.backoff = [](int next) { return std::chrono::hours(next); };
  EXPECT_CALL(notifier, send(Field(&Notification::attempt, 1))).WillOnce(Return(unavailable()));
  Delivery delivery(*pool_, notifier, slow);
  const StepResult r = step_until(delivery, [&] { return stream(reminder.stream_id).size() == 2; });
  ASSERT_TRUE(r.retry_after);
  EXPECT_EQ(*r.retry_after, std::chrono::hours(2));

  Delivery restarted(*pool_, notifier, slow);
  const StepResult waiting = restarted.step();
  ASSERT_TRUE(waiting.retry_after);
  EXPECT_GT(*waiting.retry_after, std::chrono::minutes(110));
  EXPECT_LE(*waiting.retry_after, std::chrono::hours(2));
  EXPECT_EQ(stream(reminder.stream_id).size(), 2u);

  // Two hours later (the clock is the seam): attempt 2.
  EXPECT_CALL(notifier, send(Field(&Notification::attempt, 2))).WillOnce(Return(delivered()));
  DeliveryOptions later = slow;
  later.clock = [] { return now() + std::chrono::hours(2); };
  Delivery after_the_wait(*pool_, notifier, later);
  EXPECT_EQ(after_the_wait.run_until_idle().delivered, 1u);
  EXPECT_EQ(types(reminder.stream_id),
            (std::vector<std::string>{"VisitReminderCreated", "VisitReminderDeliveryFailed",
                                      "VisitReminderDelivered"}));
}

TEST_F(DeliveryTest, OtherEventsAreNotNotifications) {
  events::AppendRequest job;
  job.stream_id = new_uuid();
  job.stream_type = "job";
  job.metadata.account_id = account_;
  job.events.push_back({new_uuid(), "JobCreated", 1, {{"title", "t"}}});
  events::PgEventStore store(*pool_);
  ASSERT_TRUE(std::holds_alternative<events::AppendResult>(store.append(job)));
  const auto reminder = remind();
  ::testing::StrictMock<testing::MockNotifier> notifier;
  EXPECT_CALL(notifier, send(Field(&Notification::event_id, reminder.event_id)))
      .WillOnce(Return(delivered()));
  Delivery delivery(*pool_, notifier, quick());
  step_until(delivery, [&] { return settled(reminder.stream_id); });
  EXPECT_EQ(types(job.stream_id), (std::vector<std::string>{"JobCreated"}));
}

// `fsmctl projections rebuild` replaces every read table; the delivery
// checkpoint is not one of them, so nothing is sent again.
TEST_F(DeliveryTest, ARebuildOfEveryProjectionSendsNothingAgain) {
  const auto a = remind();
  const auto b = follow_up();
  {
    Delivery delivery(*pool_, http_, quick());
    step_until(delivery, [&] { return settled(a.stream_id) && settled(b.stream_id); });
  }
  Delivery before(*pool_, http_, quick());
  const events::Checkpoint checkpoint = before.checkpoint();
  projections::rebuild(db_.url());
  Delivery after(*pool_, http_, quick());
  EXPECT_EQ(after.checkpoint(), checkpoint);
  after.run_until_idle();
  EXPECT_EQ(receiver_.count_by_key(),
            (std::map<std::string, int>{{a.event_id, 1}, {b.event_id, 1}}));
  // The outcome's audit row survived the rebuild too (replayed from the log).
  EXPECT_TRUE(audit_row(stream(a.stream_id)[1].event_id).is_object());
}

TEST_F(DeliveryTest, TwoDeliveriesAtOnceSendEachNotificationOnce) {
  constexpr int kNotifications = 20;
  std::vector<events::RecordedEvent> created;
  for (int i = 0; i < kNotifications; ++i) created.push_back(i % 2 ? remind() : follow_up());
  auto all_settled = [&] {
    return receiver_.requests().size() >= kNotifications && settled(created.back().stream_id);
  };
  // Each runs the worker thread's loop, with a pool of its own.
  StopSignal stop;
  auto worker = [&] {
    auto pool = make_pool();
    Delivery delivery(*pool, http_, quick());
    delivery.run(stop, milliseconds(2));
  };
  std::thread one(worker), two(worker);
  const auto deadline = Steady::now() + std::chrono::seconds(60);
  while (!all_settled() && Steady::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
  stop.request_stop();
  one.join();
  two.join();

  const auto counts = receiver_.count_by_key();
  ASSERT_EQ(counts.size(), static_cast<std::size_t>(kNotifications));
  for (const auto& e : created) {
    EXPECT_EQ(counts.at(e.event_id), 1) << e.event_id;
    EXPECT_EQ(stream(e.stream_id).size(), 2u) << e.stream_id;  // Created, Delivered
  }
}

// SIGTERM: the notification being sent is finished and recorded; the next
// one is left for the next run.
TEST_F(DeliveryTest, AStopFinishesTheCurrentNotificationOnly) {
  const auto first = remind();
  const auto second = remind();
  StopSignal stop;
  ::testing::StrictMock<testing::MockNotifier> notifier;
  EXPECT_CALL(notifier, send(Field(&Notification::event_id, first.event_id)))
      .WillOnce(Invoke([&](const Notification&) {
        stop.request_stop();
        return delivered();
      }));
  Delivery delivery(*pool_, notifier, quick());
  // Both events must be visible to one poll for the stop to matter.
  const auto deadline = Steady::now() + std::chrono::seconds(60);
  StepResult r;
  while (!r.stopped && Steady::now() < deadline) {
    r += delivery.step(&stop);
    if (!r.stopped) std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(r.stopped);
  EXPECT_EQ(r.delivered, 1u);
  EXPECT_EQ(types(first.stream_id),
            (std::vector<std::string>{"VisitReminderCreated", "VisitReminderDelivered"}));
  EXPECT_EQ(types(second.stream_id), (std::vector<std::string>{"VisitReminderCreated"}));
  EXPECT_EQ(delivery.checkpoint(), first.checkpoint());
}

TEST_F(DeliveryTest, RunReturnsPromptlyOnceStopped) {
  Delivery delivery(*pool_, http_, quick());
  StopSignal stop;
  const auto started = Steady::now();
  std::thread runner([&] { delivery.run(stop, std::chrono::hours(1)); });
  std::this_thread::sleep_for(milliseconds(200));  // let it reach its idle wait
  stop.request_stop();
  runner.join();
  EXPECT_LT(Steady::now() - started, std::chrono::seconds(30));
}

TEST_F(DeliveryTest, NeedsTwoConnections) {
  events::PgPool one(db_.url(), 1);
  EXPECT_THROW(Delivery(one, http_), std::invalid_argument);
}

}  // namespace
}  // namespace fsm::worker

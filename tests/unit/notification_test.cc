// Reminders and follow-ups: when they are due, their ids, their outcomes.
#include "domain/notification.h"

#include <gtest/gtest.h>

namespace fsm::domain::notification {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const Timestamp kNow = *parse_rfc3339("2026-12-02T10:00:00.000Z");
constexpr auto kDay = hours(24);

TEST(Notification, AVisitIsDueItsReminderWithinHoursBeforeAndNotOnceStarted) {
  EXPECT_TRUE(reminder_due(kNow + hours(2), kNow, 24));
  EXPECT_TRUE(reminder_due(kNow + hours(24), kNow, 24)) << "the window's end is inside";
  EXPECT_FALSE(reminder_due(kNow + hours(24) + minutes(1), kNow, 24));
  EXPECT_FALSE(reminder_due(kNow, kNow, 24)) << "started";
  EXPECT_FALSE(reminder_due(kNow - minutes(1), kNow, 24));
}

TEST(Notification, AnInvoiceReachesEachStepOnItsDay) {
  const auto due = kNow - 15 * kDay;
  EXPECT_EQ(steps_reached(due, kNow, {7, 14, 30}), (std::vector<int>{7, 14}));
  EXPECT_EQ(steps_reached(due, due + 31 * kDay, {7, 14, 30}), (std::vector<int>{7, 14, 30}));
  EXPECT_EQ(steps_reached(due, due + 7 * kDay - minutes(1), {7, 14, 30}), std::vector<int>{});
  EXPECT_EQ(steps_reached(due, due + 7 * kDay, {7}), std::vector<int>{7}) << "on the day itself";
}

TEST(Notification, DerivedIdsAreStableVersion8AndDistinct) {
  const auto a = reminder_stream_id("0190a5c4-1111-7222-8333-444455556666");
  EXPECT_EQ(a, reminder_stream_id("0190a5c4-1111-7222-8333-444455556666"));
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '8') << a;
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos) << a;
  EXPECT_NE(followup_stream_id("x", 7), followup_stream_id("x", 14));
  EXPECT_NE(followup_stream_id("x", 7), reminder_stream_id("x"));
  // SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 ...: version and variant set.
  EXPECT_EQ(derived_id("abc"), "ba7816bf-8f01-8fea-8141-40de5dae2223");
}

TEST(Notification, OutcomesSayDeliveredOrWhyNotAndWhetherFinal) {
  const auto ok = outcome(kReminder, "v", {2, true, false, 200, ""});
  EXPECT_EQ(ok.type, "VisitReminderDelivered");
  EXPECT_EQ(ok.data["attempt"], 2);
  EXPECT_EQ(ok.data["entity_id"], "v");
  const auto later = outcome(kFollowup, "i", {1, false, false, 503, "503"});
  EXPECT_EQ(later.type, "InvoiceFollowupDeliveryFailed");
  EXPECT_EQ(later.data["final"], false);
  EXPECT_EQ(outcome(kFollowup, "i", {1, false, true, 400, "400"}).data["final"], true);
}

TEST(Notification, BackoffDoublesFromOneSecondUpToFiveMinutes) {
  EXPECT_EQ(backoff(2), std::chrono::seconds(1));
  EXPECT_EQ(backoff(3), std::chrono::seconds(2));
  EXPECT_EQ(backoff(6), std::chrono::seconds(16));
  EXPECT_EQ(backoff(40), minutes(5));
}

TEST(Notification, AReminderSaysWhichVisitAndWhen) {
  const auto e = reminder({"v1", "j1", "Boiler", kNow + hours(2), std::nullopt}, "a1", 24);
  EXPECT_EQ(e.type, "VisitReminderCreated");
  EXPECT_EQ(e.data["entity_id"], "v1");
  EXPECT_EQ(e.data["scheduled_start"], "2026-12-02T12:00:00.000Z");
  EXPECT_EQ(e.data["automation_id"], "a1");
  EXPECT_TRUE(e.data["assigned_user_id"].is_null());
}

}  // namespace
}  // namespace fsm::domain::notification

// Delivery of reminders and follow-ups: a subscription (events::Subscription,
// checkpoint "delivery") that follows the log in order and hands each
// VisitReminderCreated / InvoiceFollowupCreated to the Notifier, recording
// each attempt's outcome on the notification's own stream. Every other event
// is passed over.
//
// Per notification, attempt n (n = the stream's version: the Created event,
// then one DeliveryFailed per failed attempt):
//  - delivered: <Kind>Delivered is appended in the subscription's
//    transaction, which also moves the checkpoint past the Created event;
//  - failed for good (a 4xx): a final <Kind>DeliveryFailed, the same way; the
//    next notification follows;
//  - failed for now (5xx, 408, 429, no answer): a DeliveryFailed (not final)
//    is committed on its own, so the attempt stays recorded, and the
//    checkpoint stays before the Created event: nothing after it is sent out
//    of order meanwhile. Attempt n+1 is made once backoff(n+1) has passed
//    since that record (read from the log, so a restart or another worker
//    keeps the wait); step() says how long that is.
// A failure is never given up for lack of time: an outage delays
// notifications, in order, and loses none.
//
// At least once, never twice in the ordinary course:
//  - the outcome commits together with the checkpoint, so a delivered
//    notification is not sent again by a later poll, a restart, or a rebuild
//    of the projections (rebuild replaces read tables; it leaves
//    projection_checkpoints, where "delivery" is kept, alone);
//  - two workers (or two Delivery objects) running at once: each event's
//    transaction holds the subscription's lock from before the send until
//    its commit and re-reads the checkpoint under it, so the second waits,
//    then finds the event handled and skips it: one send;
//  - a crash (or a lost connection) between the POST and the commit: the
//    outcome and the checkpoint were not committed, so the next poll sends
//    again, with the same Idempotency-Key (the Created event's id), and a
//    receiver that keeps the keys it has seen drops the repeat.
//
// Costs: the send happens inside the subscription's transaction, before its
// first write (so it holds no transaction id and no reader of the log waits
// for it), but it holds a connection of the pool for as long as the receiver
// takes (FSM_NOTIFY_TIMEOUT_MS at most). A pool with a statement timeout cuts
// a lease held past that timeout plus its grace: keep the notify timeout
// below it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "common/time.h"
#include "events/event.h"
#include "events/pg_pool.h"
#include "events/subscription.h"
#include "worker/notifier.h"
#include "worker/stop_signal.h"

namespace fsm::worker {

struct DeliveryOptions {
  std::string name = "delivery";  // the checkpoint's name: keep it stable
  int batch_size = 100;
  // The wait before attempt `next` (2, 3, ...) after a failure.
  std::function<std::chrono::milliseconds(int next)> backoff = domain::notification::backoff;
  std::function<Timestamp()> clock = [] { return fsm::now(); };
};

struct StepResult {
  std::size_t events = 0;     // events handled (notifications or not)
  std::size_t delivered = 0;  // notifications delivered
  std::size_t failed = 0;     // notifications that failed for good
  // A notification failed for now and waits for its next attempt: poll
  // again after this long (nothing after it is delivered meanwhile).
  std::optional<std::chrono::milliseconds> retry_after;
  bool stopped = false;  // a stop was requested: the step ended early

  StepResult& operator+=(const StepResult& other);
};

class Delivery {
 public:
  // `pool` must have at least 2 connections: a failed attempt is recorded on
  // a second one while the first holds the subscription's lock.
  Delivery(events::PgPool& pool, Notifier& notifier, DeliveryOptions options = {});

  // One poll: the events after the checkpoint, in log order, until a
  // notification must wait (retry_after) or `stop` is requested (the
  // notification being sent is finished and recorded first). Throws what the
  // database throws (events::DbUnavailable, pqxx errors); what was recorded
  // before stays.
  StepResult step(const StopSignal* stop = nullptr);

  // Steps until nothing more can be done now (no new events, a notification
  // waiting, or a stop requested); the sum of the steps.
  StepResult run_until_idle(const StopSignal* stop = nullptr);

  // A thread's loop: run_until_idle, then waits on `stop` for `idle`, or the
  // retry's backoff when a notification waits, or a growing backoff (up to
  // 30 s) while the database fails (logged at error). Returns once a stop is
  // requested; throws nothing the database throws.
  void run(StopSignal& stop, std::chrono::milliseconds idle);

  // The stored checkpoint: the last event handled.
  events::Checkpoint checkpoint() { return subscription_.checkpoint(); }

 private:
  void handle(pqxx::transaction_base& tx, const events::RecordedEvent& event);

  events::PgPool& pool_;
  Notifier& notifier_;
  DeliveryOptions options_;
  events::Subscription subscription_;
  // The step under way: what its handler calls have done, and its stop.
  StepResult current_;
  const StopSignal* stop_ = nullptr;
};

}  // namespace fsm::worker

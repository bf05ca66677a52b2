// fsm-worker's pass: turns the passing of time into events.
//
// A pass, at the time the clock gives:
//  1. transitions that need no automation: `sent`/`partial` invoices past
//     their due date become `overdue`, `sent` estimates past `expires_at`
//     become `expired`, each a command with the system actor;
//  2. every enabled automation whose next_run_at has passed: its reminders
//     or follow-ups, then the record of its run (last_run_at = now,
//     next_run_at = now + 1 h).
//
// Exactly once comes from the log: a reminder is the creation of a stream
// whose id is derived from its visit (a follow-up: its invoice and step), so
// a second creation, by a second worker or by this pass again after a crash,
// is refused by the store and counted as skipped. The queries below only
// leave out what is already in the log, to keep a pass cheap; they are not
// what makes it safe.
//
// Two workers at once: each automation is run under a session advisory lock
// (released when its connection ends, also on kill -9), so they share the
// due automations instead of both running each.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "commands/command_runner.h"
#include "common/time.h"
#include "events/pg_pool.h"
#include "worker/stop_signal.h"

namespace fsm::worker {

using Clock = std::function<Timestamp()>;

struct PassSummary {
  int due = 0;          // automations run
  int sent = 0;         // reminders and follow-ups created
  int skipped = 0;      // already in the log (another worker, an earlier pass)
  int failed = 0;       // automations or items that failed (logged at error)
  int transitions = 0;  // invoices made overdue, estimates expired
  std::int64_t duration_ms = 0;

  nlohmann::json to_json() const;
};

// The worker acting in `account_id` (commands::kWorkerActor): the actor of
// every event it appends.
commands::Actor system_actor(const std::string& account_id, const std::string& trace_id);

class Worker {
 public:
  // `stop`, when requested, ends a pass between two items (SIGTERM: the
  // current item is finished, the rest left to the next pass).
  Worker(events::PgPool& pool, Clock clock, const StopSignal* stop = nullptr);

  // One pass. Never throws for one failing automation or item (it is logged
  // and counted); throws events::DbUnavailable and pqxx errors when the
  // database itself is gone, for the caller to wait and try again.
  PassSummary pass();

 private:
  struct Due;
  bool stopping() const { return stop_ && stop_->stop_requested(); }
  void transitions(Timestamp now, PassSummary& summary);
  void run_automation(const Due& automation, Timestamp now, PassSummary& summary);
  void remind(const Due& automation, Timestamp now, PassSummary& summary);
  void follow_up(const Due& automation, Timestamp now, PassSummary& summary);
  // Appends the creation of a notification stream; false when it exists.
  bool create(const std::string& account_id, const std::string& stream_type,
              const std::string& stream_id, const domain::DomainEvent& event);

  events::PgPool& pool_;
  Clock clock_;
  const StopSignal* stop_;
  std::string trace_id_;  // the pass's: every event and log line of it carries it
};

}  // namespace fsm::worker

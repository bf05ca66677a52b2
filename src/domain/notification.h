// Reminders and follow-ups: what the worker sends. Each is an aggregate of its
// own, whose stream id is derived from what it is about (the visit; the
// invoice and the step), so "at most one per visit, ever" and "at most one per
// (invoice, step), ever" are held by the log itself: a second creation of the
// same stream, by a second worker or a retried pass, is refused by the store
// (the stream's first version exists), never by a check made beforehand.
//
// Stream life: <Kind>Created (audit action insert; entity_id the visit or
// invoice), then per delivery attempt <Kind>DeliveryFailed until
// <Kind>Delivered, or a DeliveryFailed that is final.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "domain/aggregate.h"

namespace fsm::domain::notification {

inline constexpr Kind kReminder{"visit_reminder", "VisitReminder"};
inline constexpr Kind kFollowup{"invoice_followup", "InvoiceFollowup"};

// fsm::name_based_uuid (version 8 over SHA-256 of the name). SQL computes
// the same (db/009, fsm_derived_uuid), so a query can find the stream.
std::string derived_id(std::string_view name);
std::string reminder_stream_id(const std::string& visit_id);
std::string followup_stream_id(const std::string& invoice_id, int step);

// Whether a visit starting at `start` is due its reminder at `now`: it starts
// within the next `hours_before` hours (and has not started).
bool reminder_due(Timestamp start, Timestamp now, int hours_before);
// The follow-up steps (days overdue) an invoice due at `due` has reached at
// `now`, in the order of `steps`: those with due + step days <= now.
std::vector<int> steps_reached(Timestamp due, Timestamp now, const std::vector<int>& steps);

// What a reminder is about, as the worker read it (the Created event's data).
struct Visit {
  std::string id;
  std::string job_id;
  std::string job_title;
  Timestamp scheduled_start;
  std::optional<std::string> assigned_user_id;
};
DomainEvent reminder(const Visit& visit, const std::string& automation_id, int hours_before);

struct OverdueInvoice {
  std::string id;
  std::string invoice_number;
  std::string client_id;
  Timestamp due_date;
  long long balance_cents = 0;
};
DomainEvent followup(const OverdueInvoice& invoice, const std::string& automation_id, int step);

// The outcome of one delivery attempt.
struct Attempt {
  int number = 1;  // 1 for the first
  bool delivered = false;
  // A failure the receiver will answer the same way however often it is
  // tried (a 4xx other than 408 and 429): not tried again.
  bool permanent = false;
  int http_status = 0;  // 0: no answer (refused, timed out)
  std::string error;
};
// The Delivered or DeliveryFailed event of `attempt` on a notification of
// `kind` about `entity_id`. A failure is final only when permanent: one the
// receiver may answer differently later (down, 5xx, timeout) is tried again,
// however long it takes, so an outage delays notifications but loses none.
DomainEvent outcome(const Kind& kind, const std::string& entity_id, const Attempt& attempt);
// The wait before attempt `next` (2, 3, ...): 1 s, 2 s, 4 s, ... at most 5 min.
std::chrono::milliseconds backoff(int next);

}  // namespace fsm::domain::notification

#include "domain/notification.h"

#include <algorithm>

#include "common/uuid.h"

namespace fsm::domain::notification {
namespace {

constexpr auto kDay = std::chrono::hours(24);

}  // namespace

std::string derived_id(std::string_view name) {
  return name_based_uuid(name);
}

std::string reminder_stream_id(const std::string& visit_id) {
  return derived_id(std::string(kReminder.stream_type) + ":" + visit_id);
}

std::string followup_stream_id(const std::string& invoice_id, int step) {
  return derived_id(std::string(kFollowup.stream_type) + ":" + invoice_id + ":" +
                    std::to_string(step));
}

bool reminder_due(Timestamp start, Timestamp now, int hours_before) {
  return start > now && start <= now + std::chrono::hours(hours_before);
}

std::vector<int> steps_reached(Timestamp due, Timestamp now, const std::vector<int>& steps) {
  std::vector<int> reached;
  for (const int step : steps) {
    if (due + step * kDay <= now) reached.push_back(step);
  }
  return reached;
}

DomainEvent reminder(const Visit& visit, const std::string& automation_id, int hours_before) {
  json data = {
      {"entity_id", visit.id},
      {"visit_id", visit.id},
      {"job_id", visit.job_id},
      {"automation_id", automation_id},
      {"hours_before", hours_before},
      {"scheduled_start", format_rfc3339(visit.scheduled_start)},
      {"assigned_user_id", visit.assigned_user_id ? json(*visit.assigned_user_id) : json()},
      {"message",
       "Visit for \"" + visit.job_title + "\" starts at " + format_rfc3339(visit.scheduled_start)}};
  return {event_type(kReminder.name, "Created"), std::move(data)};
}

DomainEvent followup(const OverdueInvoice& invoice, const std::string& automation_id, int step) {
  json data = {{"entity_id", invoice.id},
               {"invoice_id", invoice.id},
               {"invoice_number", invoice.invoice_number},
               {"client_id", invoice.client_id},
               {"automation_id", automation_id},
               {"days_overdue", step},
               {"due_date", format_rfc3339(invoice.due_date)},
               {"balance_cents", invoice.balance_cents},
               {"message", "Invoice " + invoice.invoice_number + " is " + std::to_string(step) +
                               " days overdue"}};
  return {event_type(kFollowup.name, "Created"), std::move(data)};
}

DomainEvent outcome(const Kind& kind, const std::string& entity_id, const Attempt& attempt) {
  json data = {{"entity_id", entity_id}, {"attempt", attempt.number}};
  if (attempt.http_status) data["http_status"] = attempt.http_status;
  if (attempt.delivered) return {event_type(kind.name, "Delivered"), std::move(data)};
  data["error"] = attempt.error;
  data["final"] = attempt.permanent;
  return {event_type(kind.name, "DeliveryFailed"), std::move(data)};
}

std::chrono::milliseconds backoff(int next) {
  const int doublings = std::clamp(next - 2, 0, 20);
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(1) * (1LL << doublings),
                                             std::chrono::minutes(5));
}

}  // namespace fsm::domain::notification

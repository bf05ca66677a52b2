#include "worker/delivery.h"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "commands/command_runner.h"
#include "common/log.h"
#include "events/pg_event_store.h"
#include "worker/worker.h"

namespace fsm::worker {
namespace {

namespace notification = domain::notification;
using std::chrono::milliseconds;

// Thrown by the handler to leave the checkpoint before the current event and
// end the poll: the notification waits for its next attempt.
struct RetryLater {
  milliseconds after;
};
// Thrown by the handler before it sends, once a stop is requested.
struct StopRequested {};

// The notification kind whose Created event this is, if any.
const domain::Kind* created_kind(const std::string& event_type) {
  for (const domain::Kind* kind : {&notification::kReminder, &notification::kFollowup}) {
    if (event_type == domain::event_type(kind->name, "Created")) return kind;
  }
  return nullptr;
}

std::string text(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Where a notification's stream stands.
struct Progress {
  int attempt = 1;                     // the next attempt's number: the stream's version
  bool done = false;                   // delivered, or failed for good
  std::optional<Timestamp> failed_at;  // when the last attempt failed, if it did
};

Progress progress_of(const domain::Kind& kind, const std::vector<events::RecordedEvent>& stream) {
  Progress p;
  if (stream.empty()) throw std::logic_error("a notification without its stream");
  p.attempt = stream.back().version;
  const std::string delivered = domain::event_type(kind.name, "Delivered");
  const std::string failed = domain::event_type(kind.name, "DeliveryFailed");
  for (const auto& e : stream) {
    if (e.type == delivered || (e.type == failed && e.data.value("final", false))) p.done = true;
  }
  if (stream.back().type == failed) p.failed_at = stream.back().recorded_at;
  return p;
}

// Outcomes are the worker's acts, in the notification's account, under the
// trace of the pass that created it.
commands::Actor actor_of(const events::RecordedEvent& created) {
  return system_actor(text(created.metadata, "account_id"), text(created.metadata, "trace_id"));
}

}  // namespace

StepResult& StepResult::operator+=(const StepResult& other) {
  events += other.events;
  delivered += other.delivered;
  failed += other.failed;
  if (other.retry_after) retry_after = other.retry_after;
  stopped = stopped || other.stopped;
  return *this;
}

Delivery::Delivery(events::PgPool& pool, Notifier& notifier, DeliveryOptions options)
    : pool_(pool),
      notifier_(notifier),
      options_(std::move(options)),
      subscription_(
          pool, options_.name,
          [this](pqxx::transaction_base& tx, const events::RecordedEvent& e) { handle(tx, e); },
          options_.batch_size) {
  if (pool.size() < 2) throw std::invalid_argument("delivery needs 2 pool connections or more");
}

StepResult Delivery::step(const StopSignal* stop) {
  current_ = {};
  stop_ = stop;
  try {
    subscription_.poll();
  } catch (const RetryLater& r) {
    current_.retry_after = r.after;
  } catch (const StopRequested&) {
    current_.stopped = true;
  }
  stop_ = nullptr;
  return current_;
}

StepResult Delivery::run_until_idle(const StopSignal* stop) {
  StepResult total;
  for (;;) {
    const StepResult r = step(stop);
    total += r;
    if (r.events == 0 || r.retry_after || r.stopped) return total;
  }
}

void Delivery::run(StopSignal& stop, milliseconds idle) {
  int failures = 0;  // of the database, in a row
  while (!stop.stop_requested()) {
    milliseconds wait = idle;
    try {
      const StepResult r = run_until_idle(&stop);
      failures = 0;
      if (r.retry_after) wait = *r.retry_after;
    } catch (const std::exception& e) {
      ++failures;
      wait = std::min<milliseconds>(options_.backoff(failures + 1), std::chrono::seconds(30));
      log::error(
          "delivery: cannot read or record notifications, retrying",
          {{"subscription", options_.name}, {"error", e.what()}, {"retry_in_ms", wait.count()}});
    }
    stop.wait_for(wait);
  }
}

void Delivery::handle(pqxx::transaction_base& tx, const events::RecordedEvent& e) {
  const domain::Kind* kind = created_kind(e.type);
  if (!kind) {
    ++current_.events;
    return;
  }
  if (stop_ && stop_->stop_requested()) throw StopRequested{};
  // Subscription runs handlers in a pqxx::work; the command layer's append
  // asks for one.
  auto* work = dynamic_cast<pqxx::work*>(&tx);
  if (!work) throw std::logic_error("delivery needs a read-write transaction");
  const auto stream = events::PgEventStore::read_stream_in(tx, e.stream_id, std::nullopt);
  const Progress progress = progress_of(*kind, stream);
  if (progress.done) {  // recorded by a Delivery under another name
    ++current_.events;
    return;
  }
  if (progress.failed_at) {
    const Timestamp due = *progress.failed_at + options_.backoff(progress.attempt);
    const Timestamp now = options_.clock();
    if (now < due) throw RetryLater{std::chrono::ceil<milliseconds>(due - now)};
  }

  const Notification n{.event_id = e.event_id,
                       .kind = kind->stream_type,
                       .stream_id = e.stream_id,
                       .account_id = text(e.metadata, "account_id"),
                       .data = e.data,
                       .attempt = progress.attempt};
  Attempt attempt = notifier_.send(n);
  attempt.number = progress.attempt;
  const commands::Actor actor = actor_of(e);
  const domain::DomainEvent outcome = notification::outcome(*kind, n.entity_id(), attempt);
  const int version = stream.back().version;

  if (attempt.delivered || attempt.permanent) {
    if (!commands::append_and_project(*work, actor, e.stream_id, kind->stream_type, version,
                                      {outcome})) {
      throw std::runtime_error("notification stream " + e.stream_id + " changed while delivering");
    }
    ++(attempt.delivered ? current_.delivered : current_.failed);
    ++current_.events;
    return;
  }
  // Failed for now: the record commits on its own (the subscription's
  // transaction is about to roll back). A version conflict means an earlier
  // try of this same record committed (the pool repeats after a lost answer).
  pool_.run([&](pqxx::connection& conn) {
    pqxx::work record(conn);
    if (commands::append_and_project(record, actor, e.stream_id, kind->stream_type, version,
                                     {outcome})) {
      record.commit();
    }
  });
  throw RetryLater{options_.backoff(progress.attempt + 1)};
}

}  // namespace fsm::worker

#include "worker/worker.h"

#include <chrono>
#include <optional>
#include <vector>

#include "commands/services.h"
#include "common/log.h"
#include "common/uuid.h"
#include "domain/estimate.h"
#include "domain/invoice.h"
#include "domain/notification.h"

namespace fsm::worker {
namespace notification = domain::notification;
namespace {

constexpr int kBatch = 500;

Timestamp micros(const pqxx::field& f) {
  return from_unix_micros(f.as<std::int64_t>());
}

// A statement's timestamp parameter: RFC 3339 text, which PostgreSQL parses
// at full precision.
std::string param(Timestamp t) {
  return format_rfc3339(t);
}

std::optional<std::string> nullable(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

// "{7,14,30}": an int[] parameter.
std::string int_array(const std::vector<int>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

// Rows of `sql` (parameters `args`), read in one short statement.
template <typename... Args>
pqxx::result query(events::PgPool& pool, const std::string& sql, const Args&... args) {
  return pool.run([&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    return tx.exec_params(sql, args...);
  });
}

// Keyset paging over a query ordered by a uuid: the rows after `after`.
constexpr const char* kFirstId = "00000000-0000-0000-0000-000000000000";

}  // namespace

nlohmann::json PassSummary::to_json() const {
  return {{"due", due},
          {"sent", sent},
          {"skipped", skipped},
          {"failed", failed},
          {"transitions", transitions},
          {"duration_ms", duration_ms}};
}

commands::Actor system_actor(const std::string& account_id, const std::string& trace_id) {
  return commands::Actor{account_id, commands::kWorkerActor, "system", trace_id};
}

struct Worker::Due {
  std::string id;
  std::string account_id;
  std::string type;
  nlohmann::json config;
};

Worker::Worker(events::PgPool& pool, Clock clock, const StopSignal* stop)
    : pool_(pool), clock_(std::move(clock)), stop_(stop) {}

PassSummary Worker::pass() {
  const auto started = std::chrono::steady_clock::now();
  trace_id_ = new_uuid();
  const Timestamp now = clock_();
  PassSummary summary;
  transitions(now, summary);
  std::string after_id = kFirstId;
  while (!stopping()) {
    const auto due = query(pool_,
                           "SELECT id::text, account_id::text, type, config::text FROM automations "
                           "WHERE enabled AND next_run_at <= $1 AND id > $2::uuid "
                           "ORDER BY id LIMIT 100",
                           param(now), after_id);
    for (const auto& row : due) {
      if (stopping()) break;
      Due a{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
            nlohmann::json::parse(row[3].as<std::string>())};
      after_id = a.id;
      run_automation(a, now, summary);
    }
    if (due.size() < 100) break;
  }
  summary.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
  return summary;
}

void Worker::transitions(Timestamp now, PassSummary& summary) {
  struct Sweep {
    const char* sql;  // ids and accounts of what is due, after $2, ordered by id
    const char* to;
    Result<commands::Outcome> (*command)(const commands::Context&, const commands::Target&,
                                         const std::string&);
  };
  static const Sweep sweeps[] = {
      {"SELECT id::text, account_id::text FROM invoices WHERE status IN ('sent', 'partial') "
       "AND due_date < $1 AND id > $2::uuid ORDER BY id LIMIT 500",
       "overdue", &commands::invoice::transition},
      {"SELECT id::text, account_id::text FROM estimates WHERE status = 'sent' "
       "AND expires_at < $1 AND id > $2::uuid ORDER BY id LIMIT 500",
       "expired", &commands::estimate::transition},
  };
  for (const auto& sweep : sweeps) {
    std::string after_id = kFirstId;
    while (!stopping()) {
      const auto rows = query(pool_, sweep.sql, param(now), after_id);
      for (const auto& row : rows) {
        if (stopping()) return;
        after_id = row[0].as<std::string>();
        const auto actor = system_actor(row[1].as<std::string>(), trace_id_);
        auto done = sweep.command({pool_, actor}, {after_id}, sweep.to);
        // Refused: changed since the query (paid, voided, or another worker
        // got there first). The next pass sees the new state.
        if (done) ++summary.transitions;
      }
      if (rows.size() < kBatch) break;
    }
  }
}

void Worker::run_automation(const Due& a, Timestamp now, PassSummary& summary) {
  // Under a session lock, so a second worker does not run the same one; it
  // goes with the connection, also when this process is killed.
  auto lease = pool_.acquire();
  const std::string key = "automation:" + a.id;
  pqxx::nontransaction locker(*lease);
  if (!locker.exec_params1("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key)[0]
           .as<bool>()) {
    return;  // another worker has it
  }
  struct Unlock {
    pqxx::nontransaction& tx;
    const std::string& key;
    ~Unlock() {
      try {
        tx.exec_params("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key);
      } catch (const std::exception&) {
        // The connection broke: the session, and with it the lock, is gone.
      }
    }
  } unlock{locker, key};
  // Still due? The other worker may have run and recorded it meanwhile.
  if (locker
          .exec_params("SELECT 1 FROM automations WHERE id = $1::uuid AND enabled "
                       "AND next_run_at <= $2",
                       a.id, param(now))
          .empty()) {
    return;
  }
  ++summary.due;
  const int failed_before = summary.failed;
  try {
    if (a.type == "visit_reminder") {
      remind(a, now, summary);
    } else if (a.type == "invoice_followup") {
      follow_up(a, now, summary);
    }
  } catch (const events::DbUnavailable&) {
    throw;
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    ++summary.failed;
    log::error(a.type + ": failed to process automation",
               {{"automation_id", a.id}, {"account_id", a.account_id}, {"error", e.what()}},
               trace_id_);
  }
  // A run that stopped half way (SIGTERM) or failed is not recorded: the
  // automation stays due and the next pass finishes it (what was sent stays
  // sent: the log refuses it twice).
  if (stopping() || summary.failed != failed_before) return;
  const auto actor = system_actor(a.account_id, trace_id_);
  auto recorded = commands::automation::record_run({pool_, actor}, a.id, now);
  if (!recorded) {
    log::warn("automation run not recorded",
              {{"automation_id", a.id}, {"error", recorded.error().message}}, trace_id_);
  }
}

void Worker::remind(const Due& a, Timestamp now, PassSummary& summary) {
  const int hours = a.config.value("hours_before", 24);
  std::string after_start = param(Timestamp{}), after_id = kFirstId;
  while (!stopping()) {
    const auto rows = query(
        pool_,
        "SELECT v.id::text, v.job_id::text, coalesce(j.title, ''), "
        "(extract(epoch FROM v.scheduled_start) * 1000000)::bigint, v.assigned_user_id::text "
        "FROM visits v LEFT JOIN jobs j ON j.id = v.job_id "
        "WHERE v.account_id = $1::uuid AND v.status = 'scheduled' "
        "AND v.scheduled_start > $2 AND v.scheduled_start <= $2::timestamptz + make_interval(hours "
        "=> $3) "
        "AND (v.scheduled_start, v.id) > ($4::timestamptz, $5::uuid) "
        "AND NOT EXISTS (SELECT 1 FROM streams s "
        "  WHERE s.stream_id = fsm_derived_uuid('visit_reminder:' || v.id::text)) "
        "ORDER BY v.scheduled_start, v.id LIMIT 500",
        a.account_id, param(now), hours, after_start, after_id);
    for (const auto& row : rows) {
      if (stopping()) return;
      notification::Visit visit{row[0].as<std::string>(), row[1].as<std::string>(),
                                row[2].as<std::string>(), micros(row[3]), nullable(row[4])};
      after_start = param(visit.scheduled_start);
      after_id = visit.id;
      if (!notification::reminder_due(visit.scheduled_start, now, hours)) continue;
      const bool created = create(a.account_id, notification::kReminder.stream_type,
                                  notification::reminder_stream_id(visit.id),
                                  notification::reminder(visit, a.id, hours));
      ++(created ? summary.sent : summary.skipped);
    }
    if (rows.size() < kBatch) break;
  }
}

void Worker::follow_up(const Due& a, Timestamp now, PassSummary& summary) {
  const auto steps = a.config.value("days_overdue", std::vector<int>{7, 14, 30});
  std::string after_id = kFirstId;
  int after_step = 0;
  while (!stopping()) {
    const auto rows = query(
        pool_,
        "SELECT i.id::text, i.invoice_number, i.client_id::text, "
        "(extract(epoch FROM i.due_date) * 1000000)::bigint, i.total_cents - i.paid_cents, "
        "s.step "
        "FROM invoices i CROSS JOIN unnest($3::int[]) AS s(step) "
        "WHERE i.account_id = $1::uuid AND i.status IN ('sent', 'partial', 'overdue') "
        "AND i.due_date <= $2::timestamptz - make_interval(days => s.step) "  // invoices_open_due_idx
        "AND (i.id, s.step) > ($4::uuid, $5::int) "
        "AND NOT EXISTS (SELECT 1 FROM streams st WHERE st.stream_id = "
        "  fsm_derived_uuid('invoice_followup:' || i.id::text || ':' || s.step)) "
        "ORDER BY i.id, s.step LIMIT 500",
        a.account_id, param(now), int_array(steps), after_id, after_step);
    for (const auto& row : rows) {
      if (stopping()) return;
      notification::OverdueInvoice invoice{row[0].as<std::string>(), row[1].as<std::string>(),
                                           row[2].as<std::string>(), micros(row[3]),
                                           row[4].as<long long>()};
      const int step = row[5].as<int>();
      after_id = invoice.id;
      after_step = step;
      const bool created = create(a.account_id, notification::kFollowup.stream_type,
                                  notification::followup_stream_id(invoice.id, step),
                                  notification::followup(invoice, a.id, step));
      ++(created ? summary.sent : summary.skipped);
    }
    if (rows.size() < kBatch) break;
  }
}

bool Worker::create(const std::string& account_id, const std::string& stream_type,
                    const std::string& stream_id, const domain::DomainEvent& event) {
  const auto actor = system_actor(account_id, trace_id_);
  // Repeated by the pool after a lost COMMIT: the repeat finds the stream and
  // answers false. The notification exists once either way.
  return pool_.run([&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    if (!commands::append_and_project(tx, actor, stream_id, stream_type, 0, {event})) return false;
    tx.commit();
    return true;
  });
}

}  // namespace fsm::worker

// An automation: a rule the worker (fsm-worker) runs on a schedule.
//
// `type` is `visit_reminder` (config `hours_before`, an integer 1..168,
// default 24) or `invoice_followup` (config `days_overdue`, distinct integers
// 1..3650, at most 50, default [7,14,30], stored ascending). The type is fixed
// at creation: a PATCH naming it is a VALIDATION_ERROR on `type`. A config
// holds its type's settings only, completed with the defaults of those it
// omits; a PATCH of `config` replaces it whole, the same way.
//
// The worker runs an enabled automation whose `next_run_at` has passed and
// records the pass (`record_run`: last_run_at = now, next_run_at = now + 1 h).
// `request_run` ("run now") makes it due at once, enabled or not: a disabled
// one then runs as soon as it is enabled again. The runbook's hand-run
// `UPDATE automations SET next_run_at = …` is recorded as the same event by
// the database (db/008_automations.sql), with actor `operator:sql`.
//
// Time is an input: every decision that needs "now" takes it.
#pragma once

#include <chrono>

#include "common/time.h"
#include "domain/aggregate.h"

namespace fsm::domain::automation {

inline constexpr Kind kKind{"automation", "Automation"};

// The event types beyond Created, Updated and Deleted. Both carry
// {changes: {...}, previous: {...}} like an Updated event:
//   AutomationRunRequested  next_run_at (also written by db/008's trigger)
//   AutomationRan           last_run_at, next_run_at
inline constexpr const char* kRunRequested = "AutomationRunRequested";
inline constexpr const char* kRan = "AutomationRan";

// How long after a recorded pass the automation is due again.
inline constexpr std::chrono::hours kRunInterval{1};

const std::vector<std::string>& types();  // visit_reminder, invoice_followup
// type (required), enabled, config, next_run_at; none of them may be null.
const std::vector<FieldSpec>& create_fields();
// enabled, config, next_run_at; `type` is accepted only to be refused by patch().
const std::vector<FieldSpec>& patch_fields();

// `config` checked against `type`'s settings (issues under ["config", ...])
// and completed with the defaults of the settings it omits.
Result<nlohmann::json> checked_config(const std::string& type, const nlohmann::json& config);

// `fields` validated by create_fields(): enabled by default, due at `now`
// unless next_run_at is given, never run (last_run_at null).
Result<Creation> create(const nlohmann::json& fields, const std::string& account_id, Timestamp now);
Result<Events> patch(const EntityState& automation, const nlohmann::json& patch);
Result<Events> remove(const EntityState& automation);
// Due now: next_run_at = now.
Result<Events> request_run(const EntityState& automation, Timestamp now);
// The worker's record of a completed pass at `now`.
Result<Events> record_run(const EntityState& automation, Timestamp now);

}  // namespace fsm::domain::automation

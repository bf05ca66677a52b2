#include "domain/automation.h"

#include <algorithm>
#include <cstdint>
#include <set>

namespace fsm::domain::automation {
namespace {

using nlohmann::json;

constexpr long long kMaxHoursBefore = 168;
constexpr long long kMaxDaysOverdue = 3650;  // ten years: keeps the worker's date arithmetic sane
constexpr std::size_t kMaxSteps = 50;

// An integer of JSON within [min, max]; nullopt for anything else (a
// fraction arrives as {"$decimal": ...} and is no integer).
std::optional<long long> integer_in(const json& v, long long min, long long max) {
  if (!v.is_number_integer()) return std::nullopt;
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    return std::nullopt;
  }
  const auto n = v.get<long long>();
  if (n < min || n > max) return std::nullopt;
  return n;
}

std::string range_text(long long min, long long max) {
  return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

// One setting of a type's config: its default, and its check, which reports
// issues at `at` and returns the value to store.
struct Setting {
  const char* key;
  json fallback;
  std::optional<json> (*check)(const json& value, const std::vector<PathElement>& at,
                               std::vector<Issue>& issues);
};

std::optional<json> check_hours_before(const json& v, const std::vector<PathElement>& at,
                                       std::vector<Issue>& issues) {
  if (!integer_in(v, 1, kMaxHoursBefore)) {
    issues.push_back({at, range_text(1, kMaxHoursBefore)});
    return std::nullopt;
  }
  return v;
}

// Distinct steps, stored ascending: the worker sends one follow-up per
// (invoice, step), so a repeated step could mean nothing.
std::optional<json> check_days_overdue(const json& v, const std::vector<PathElement>& at,
                                       std::vector<Issue>& issues) {
  if (!v.is_array() || v.empty() || v.size() > kMaxSteps) {
    issues.push_back(
        {at, "must be a list of 1 to " + std::to_string(kMaxSteps) + " whole numbers of days"});
    return std::nullopt;
  }
  std::set<long long> steps;
  const std::size_t before = issues.size();
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto path = at;
    path.emplace_back(static_cast<std::int64_t>(i));
    const auto n = integer_in(v[i], 1, kMaxDaysOverdue);
    if (!n) {
      issues.push_back({path, range_text(1, kMaxDaysOverdue)});
    } else if (!steps.insert(*n).second) {
      issues.push_back({path, "repeats an earlier step"});
    }
  }
  if (issues.size() != before) return std::nullopt;
  return json(steps);  // ascending
}

// The field's value, or `fallback` when it is absent or null.
json given_or(const json& fields, const char* key, json fallback) {
  auto it = fields.find(key);
  return it == fields.end() || it->is_null() ? std::move(fallback) : *it;
}

const Setting& setting_of(const std::string& type) {
  static const Setting reminder{"hours_before", 24, check_hours_before};
  static const Setting followup{"days_overdue", json::array({7, 14, 30}), check_days_overdue};
  return type == "visit_reminder" ? reminder : followup;
}

}  // namespace

const std::vector<std::string>& types() {
  static const std::vector<std::string> t = {"visit_reminder", "invoice_followup"};
  return t;
}

const std::vector<FieldSpec>& create_fields() {
  static const std::vector<FieldSpec> f = {enum_field("type", types(), true),
                                           {"enabled", FieldType::kBool},
                                           {"config", FieldType::kObject},
                                           {"next_run_at", FieldType::kTimestamp}};
  return f;
}

const std::vector<FieldSpec>& patch_fields() {
  static const std::vector<FieldSpec> f = [] {
    auto specs = for_patch(create_fields());
    // Any value reaches patch(), which explains that the type stays.
    specs[0] = {"type", FieldType::kText, false, true, 100};
    return specs;
  }();
  return f;
}

Result<json> checked_config(const std::string& type, const json& config) {
  const Setting& setting = setting_of(type);
  std::vector<Issue> issues;
  json out = {{setting.key, setting.fallback}};
  for (const auto& [key, value] : config.items()) {
    if (key != setting.key) {
      issues.push_back({{"config", key}, "is not a setting of " + type});
    } else if (auto checked = setting.check(value, {"config", key}, issues)) {
      out[key] = *checked;
    }
  }
  if (!issues.empty()) return Error::validation(std::move(issues));
  return out;
}

Result<Creation> create(const json& fields, const std::string& account_id, Timestamp now) {
  const std::string type = fields.at("type");
  auto config = checked_config(type, given_or(fields, "config", json::object()));
  if (!config) return config.error();
  const json data = {{"type", type},
                     {"enabled", given_or(fields, "enabled", true)},
                     {"config", *config},
                     {"next_run_at", given_or(fields, "next_run_at", format_rfc3339(now))},
                     {"last_run_at", nullptr}};
  return Creation{created(kKind, data, account_id), {}};
}

Result<Events> patch(const EntityState& automation, const json& patch) {
  if (patch.contains("type")) {
    return Error::validation(
        {{{"type"}, "cannot change: an automation keeps its type (create another one)"}});
  }
  json changes = patch;
  if (patch.contains("config")) {
    auto config = checked_config(automation.str("type"), patch["config"]);
    if (!config) return config.error();
    changes["config"] = *config;
  }
  return update_events(kKind, automation, changes);
}

Result<Events> remove(const EntityState& automation) {
  return Events{deleted_event(kKind.name, automation)};
}

Result<Events> request_run(const EntityState& automation, Timestamp now) {
  return Events{
      {kRunRequested,
       {{"changes", {{"next_run_at", format_rfc3339(now)}}},
        {"previous", {{"next_run_at", automation.fields.value("next_run_at", json())}}}}}};
}

Result<Events> record_run(const EntityState& automation, Timestamp now) {
  const json& f = automation.fields;
  return Events{{kRan,
                 {{"changes",
                   {{"last_run_at", format_rfc3339(now)},
                    {"next_run_at", format_rfc3339(now + kRunInterval)}}},
                  {"previous",
                   {{"last_run_at", f.value("last_run_at", json())},
                    {"next_run_at", f.value("next_run_at", json())}}}}}};
}

}  // namespace fsm::domain::automation

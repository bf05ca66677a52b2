#include "domain/aggregate.h"

#include <algorithm>

#include "common/time.h"

namespace fsm::domain {

using nlohmann::json;

bool allowed(const TransitionTable& table, const std::string& from, const std::string& to) {
  auto it = table.find(from);
  return it != table.end() && it->second.count(to) > 0;
}

Error invalid_transition(const std::string& kind, const std::string& from, const std::string& to) {
  const bool vowel = !kind.empty() && std::string("aeiou").find(kind[0]) != std::string::npos;
  return Error::of(ErrorCode::kInvalidTransition, std::string(vowel ? "an " : "a ") + kind +
                                                      " cannot go from " + from + " to " + to);
}

std::optional<Error> check_status(const std::vector<std::string>& statuses, const std::string& to,
                                  const std::string& kind) {
  if (std::find(statuses.begin(), statuses.end(), to) != statuses.end()) return std::nullopt;
  const bool vowel = !kind.empty() && std::string("aeiou").find(kind[0]) != std::string::npos;
  return Error::validation(
      {{{"status"}, std::string("is not ") + (vowel ? "an " : "a ") + kind + " status"}});
}

FieldSpec text_field(const char* name, bool required, std::size_t max) {
  return FieldSpec{name, FieldType::kText, required, !required, max};
}
FieldSpec uuid_field(const char* name, bool required) {
  return FieldSpec{name, FieldType::kUuid, required, !required};
}
FieldSpec time_field(const char* name, bool required) {
  return FieldSpec{name, FieldType::kTimestamp, required, !required};
}
FieldSpec enum_field(const char* name, std::vector<std::string> choices, bool required) {
  return FieldSpec{name, FieldType::kEnum, required, false, 0, std::move(choices)};
}

std::vector<FieldSpec> without(std::vector<FieldSpec> specs, const std::set<std::string>& drop) {
  std::erase_if(specs, [&](const FieldSpec& s) { return drop.count(s.name) > 0; });
  return specs;
}

std::vector<FieldSpec> for_patch(std::vector<FieldSpec> specs) {
  for (auto& s : specs) s.required = false;
  return specs;
}

const std::vector<FieldSpec>& transition_fields() {
  static const std::vector<FieldSpec> f = {{"status", FieldType::kText, true, false, 50}};
  return f;
}

json merged(const EntityState& state, const json& patch) {
  json m = state.fields;
  for (const auto& [k, v] : patch.items()) m[k] = v;
  return m;
}

std::vector<Issue> check_schedule(const json& m, const char* start, const char* end) {
  auto at = [&m](const char* field) {
    return m.contains(field) && m[field].is_string() ? parse_rfc3339(m[field].get<std::string>())
                                                     : std::nullopt;
  };
  const auto s = at(start), e = at(end);
  if (s && e && !(*s < *e)) return {{{end}, std::string("must be after ") + start}};
  return {};
}

DomainEvent created(const Kind& kind, json fields, const std::string& account_id) {
  fields["account_id"] = account_id;
  return {event_type(kind.name, "Created"), std::move(fields)};
}

Events update_events(const Kind& kind, const EntityState& state, const json& patch) {
  auto ev = updated_event(kind.name, state, patch);
  return ev.type.empty() ? Events{} : Events{ev};
}

Error bad_reference(const std::string& field, const std::string& what) {
  return Error::validation({{{field}, "no such " + what + " in this account"}});
}

Error still_referenced(const std::string& what) {
  return Error::of(ErrorCode::kConflict, "it is still referenced by " + what);
}

}  // namespace fsm::domain

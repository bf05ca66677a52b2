#include "domain/estimate.h"

#include "common/uuid.h"
#include "domain/document.h"
#include "domain/invoice.h"

namespace fsm::domain::estimate {

using nlohmann::json;

const std::vector<std::string>& statuses() {
  static const std::vector<std::string> s = {"draft", "sent", "approved", "declined", "expired"};
  return s;
}

const std::vector<FieldSpec>& create_fields() {
  static const std::vector<FieldSpec> f = {
      uuid_field("client_id", true),    uuid_field("job_id", false),
      uuid_field("property_id", false), document::tax_rate_field(),
      text_field("notes", false, 5000), text_field("internal_notes", false, 5000),
      time_field("expires_at")};
  return f;
}

const std::vector<FieldSpec>& patch_fields() {
  static const std::vector<FieldSpec> f = document::patchable(create_fields());
  return f;
}

bool transition_allowed(const std::string& from, const std::string& to) {
  static const TransitionTable t = {{"draft", {"sent"}},
                                    {"sent", {"approved", "declined", "expired"}}};
  return allowed(t, from, to);
}

Result<Creation> create(const json& fields, const std::string& account_id) {
  json d = fields;
  if (auto e = document::price(d, fields["line_items"], document::tax_of(fields, nullptr))) {
    return *e;
  }
  d["status"] = "draft";
  d["sent_at"] = nullptr;
  d["invoice_id"] = nullptr;
  auto refs = document::references(d);
  return Creation{created(kKind, std::move(d), account_id), std::move(refs)};
}

Result<Events> patch(const EntityState& estimate, const json& patch) {
  const std::string status = estimate.str("status");
  if (status == "sent") {
    for (const auto& [key, value] : patch.items()) {
      if (key != "internal_notes") {
        return Error::of(ErrorCode::kImmutableEntity,
                         "a sent estimate only accepts internal_notes changes");
      }
    }
  } else if (status != "draft") {
    return Error::of(ErrorCode::kImmutableEntity, "a " + status + " estimate cannot be changed");
  }
  auto changes = document::repriced(estimate, patch);
  if (!changes) return changes.error();
  return update_events(kKind, estimate, *changes);
}

std::vector<Reference> patch_references(const EntityState& estimate, const json& patch) {
  return document::references(merged(estimate, patch), &patch);
}

Result<Events> transition(const EntityState& estimate, const std::string& to,
                          const std::string& now) {
  if (auto e = check_status(statuses(), to, "estimate")) return *e;
  const std::string from = estimate.str("status");
  if (!transition_allowed(from, to)) return invalid_transition("estimate", from, to);
  json changes = json::object();
  if (to == "sent") changes["sent_at"] = now;
  return Events{status_event(kKind.name, estimate, to, std::move(changes))};
}

std::string converted(const EntityState& estimate) {
  return estimate.str("invoice_id");
}

Result<Conversion> convert(const EntityState& s, const std::string& estimate_id,
                           const std::string& invoice_id, const std::string& account_id) {
  if (!converted(s).empty()) return Conversion{};  // converted before: nothing to do
  if (s.str("status") != "approved") {
    return Error::of(ErrorCode::kInvalidTransition, "only an approved estimate converts");
  }
  json inv = invoice::draft(json::object());
  for (const char* k : {"client_id", "job_id", "property_id", "notes", "tax_rate_bps",
                        "subtotal_cents", "tax_cents", "total_cents"}) {
    inv[k] = s.fields.contains(k) ? s.fields[k] : json();
  }
  inv["account_id"] = account_id;
  inv["estimate_id"] = estimate_id;
  inv["due_date"] = nullptr;
  json lines = json::array();
  for (const auto& l : s.fields["line_items"]) {
    json copy = l;
    copy["estimate_line_item_id"] = l["id"];
    copy["id"] = new_uuid();
    lines.push_back(std::move(copy));
  }
  inv["line_items"] = std::move(lines);
  return Conversion{{event_type(invoice::kKind.name, "Created"), std::move(inv)},
                    {{kEstimateConverted,
                      {{"invoice_id", invoice_id}, {"changes", {{"invoice_id", invoice_id}}}}}}};
}

}  // namespace fsm::domain::estimate

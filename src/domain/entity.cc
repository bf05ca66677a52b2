#include "domain/entity.h"

namespace fsm::domain {

std::string EntityState::str(const char* field) const {
  auto it = fields.find(field);
  return (it != fields.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

void evolve(EntityState& state, const std::string& type, const json& data, int version) {
  state.version = version;
  if (type.ends_with("Created")) {
    state.exists = true;
    state.deleted = false;
    state.fields = data;
  } else if (type.ends_with("Updated")) {
    // A named copy: iterating items() of the temporary value() would dangle.
    const json changes = data.value("changes", json::object());
    for (const auto& [k, v] : changes.items()) state.fields[k] = v;
  } else if (type.ends_with("StatusChanged")) {
    state.fields["status"] = data.value("to", "");
    const json changes = data.value("changes", json::object());
    for (const auto& [k, v] : changes.items()) state.fields[k] = v;
  } else if (type.ends_with("Deleted")) {
    state.deleted = true;
  } else {
    // Other event types (a payment on an invoice) may carry `changes`; a
    // password change carries none.
    const json changes = data.value("changes", json::object());
    for (const auto& [k, v] : changes.items()) state.fields[k] = v;
  }
}

const std::vector<StreamEvents>& event_catalog() {
  static const std::vector<StreamEvents> catalog = [] {
    auto of = [](const std::string& aggregate, std::initializer_list<const char*> what,
                 std::initializer_list<const char*> more = {}) {
      std::vector<std::string> types;
      for (const char* w : what) types.push_back(event_type(aggregate, w));
      for (const char* m : more) types.emplace_back(m);
      return types;
    };
    return std::vector<StreamEvents>{
        {"account", of("Account", {"Created"})},
        {"user", of("User", {"Created", "Updated", "Deleted"}, {kUserPasswordChanged})},
        {"client", of("Client", {"Created", "Updated", "Deleted"})},
        {"property", of("Property", {"Created", "Updated", "Deleted"})},
        {"job", of("Job", {"Created", "Updated", "StatusChanged", "Deleted"})},
        {"visit", of("Visit", {"Created", "Updated", "StatusChanged"})},
        {"estimate", of("Estimate", {"Created", "Updated", "StatusChanged"}, {kEstimateConverted})},
        {"invoice", of("Invoice", {"Created", "Updated", "StatusChanged"},
                       {kInvoicePaymentRecorded, kInvoicePaymentRemoved})},
        {"invoice_numbers", {kInvoiceNumberAssigned}},
        {"automation", of("Automation", {"Created", "Updated", "Deleted", "RunRequested", "Ran"})},
        {"visit_reminder", of("VisitReminder", {"Created", "Delivered", "DeliveryFailed"})},
        {"invoice_followup", of("InvoiceFollowup", {"Created", "Delivered", "DeliveryFailed"})},
    };
  }();
  return catalog;
}

std::vector<std::string> catalog_stream_types() {
  std::vector<std::string> out;
  for (const auto& s : event_catalog()) out.push_back(s.stream_type);
  return out;
}

std::vector<std::string> catalog_event_types() {
  std::vector<std::string> out;
  for (const auto& s : event_catalog())
    out.insert(out.end(), s.event_types.begin(), s.event_types.end());
  return out;
}

DomainEvent updated_event(const std::string& aggregate, const EntityState& state,
                          const json& patch) {
  json changes = json::object(), previous = json::object();
  for (const auto& [k, v] : patch.items()) {
    const json old = state.fields.contains(k) ? state.fields[k] : json(nullptr);
    if (old != v) {
      changes[k] = v;
      previous[k] = old;
    }
  }
  if (changes.empty()) return {};
  return {event_type(aggregate, "Updated"), {{"changes", changes}, {"previous", previous}}};
}

DomainEvent status_event(const std::string& aggregate, const EntityState& state,
                         const std::string& to, json changes) {
  return {event_type(aggregate, "StatusChanged"),
          {{"from", state.str("status")}, {"to", to}, {"changes", std::move(changes)}}};
}

DomainEvent deleted_event(const std::string& aggregate, const EntityState& state) {
  return {event_type(aggregate, "Deleted"), {{"previous", state.fields}}};
}

}  // namespace fsm::domain

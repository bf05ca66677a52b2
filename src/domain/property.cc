#include "domain/property.h"

namespace fsm::domain::property {

const std::vector<FieldSpec>& fields() {
  static const std::vector<FieldSpec> f = {
      text_field("address", true, 500), text_field("name", false, 200),
      text_field("city", false, 100),   text_field("state", false, 100),
      text_field("zip", false, 20),     text_field("notes", false, 5000)};
  return f;
}

Creation create(const nlohmann::json& fields, const std::string& client_id,
                const std::string& account_id) {
  nlohmann::json data = fields;
  data["client_id"] = client_id;
  return {created(kKind, std::move(data), account_id),
          {{"client", client_id, Error::of(ErrorCode::kNotFound, "no such client")}}};
}

Result<Events> patch(const EntityState& property, const nlohmann::json& patch) {
  return update_events(kKind, property, patch);
}

Result<Events> remove(const EntityState& property) {
  return Events{deleted_event(kKind.name, property)};
}

const std::vector<Blocker>& remove_blockers() {
  static const std::vector<Blocker> b = {{{"job", "property_id"}, still_referenced("jobs")}};
  return b;
}

}  // namespace fsm::domain::property

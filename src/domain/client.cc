#include "domain/client.h"

namespace fsm::domain::client {

const std::vector<FieldSpec>& fields() {
  static const std::vector<FieldSpec> f = {text_field("name", true, 200),
                                           {"email", FieldType::kEmail, false, true, 254},
                                           text_field("phone", false, 50),
                                           text_field("notes", false, 5000)};
  return f;
}

Creation create(const nlohmann::json& fields, const std::string& account_id) {
  return {created(kKind, fields, account_id), {}};
}

Result<Events> patch(const EntityState& client, const nlohmann::json& patch) {
  return update_events(kKind, client, patch);
}

Result<Events> remove(const EntityState& client) {
  return Events{deleted_event(kKind.name, client)};
}

const std::vector<Blocker>& remove_blockers() {
  // The client's stream is locked by the command, and a new job, estimate or
  // invoice share-locks it: none can appear while these are checked.
  static const std::vector<Blocker> b = {{{"job", "client_id"}, still_referenced("jobs")},
                                         {{"estimate", "client_id"}, still_referenced("estimates")},
                                         {{"invoice", "client_id"}, still_referenced("invoices")}};
  return b;
}

Relation owned_properties() {
  return {"property", "client_id"};
}

}  // namespace fsm::domain::client

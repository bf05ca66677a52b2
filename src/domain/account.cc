#include "domain/account.h"

namespace fsm::domain::account {

const std::vector<FieldSpec>& create_fields() {
  static const std::vector<FieldSpec> f = {text_field("name", true, 200),
                                           {"owner_email", FieldType::kEmail, true, false, 254},
                                           text_field("owner_name", true, 200),
                                           {"password", FieldType::kPassword, true, false}};
  return f;
}

DomainEvent create(const std::string& name, const std::string& account_id) {
  return {event_type(kKind.name, "Created"), {{"account_id", account_id}, {"name", name}}};
}

}  // namespace fsm::domain::account

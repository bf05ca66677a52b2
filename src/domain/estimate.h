// An estimate: priced line items offered to a client.
//
// draft → sent; sent → approved | declined | expired; the rest terminal. In
// draft anything may change (line items whole, totals recomputed); in sent
// only internal_notes; afterwards nothing (IMMUTABLE_ENTITY). An approved
// estimate converts into exactly one invoice.
#pragma once

#include "domain/aggregate.h"

namespace fsm::domain::estimate {

inline constexpr Kind kKind{"estimate", "Estimate"};

const std::vector<std::string>& statuses();
const std::vector<FieldSpec>& create_fields();
const std::vector<FieldSpec>& patch_fields();
bool transition_allowed(const std::string& from, const std::string& to);

// `fields` validated (document::validate with create_fields()): priced, draft.
Result<Creation> create(const nlohmann::json& fields, const std::string& account_id);
// `patch` validated with patch_fields(); line items and totals repriced.
Result<Events> patch(const EntityState& estimate, const nlohmann::json& patch);
std::vector<Reference> patch_references(const EntityState& estimate, const nlohmann::json& patch);
// `now` (RFC 3339) becomes sent_at on draft → sent.
Result<Events> transition(const EntityState& estimate, const std::string& to,
                          const std::string& now);

// Conversion: the invoice an approved estimate becomes, under `invoice_id`
// (its number is the invoice module's), and the estimate's own event. An
// estimate converted before decides nothing (`converted()` tells which invoice).
struct Conversion {
  DomainEvent invoice_created;  // to be numbered (invoice::number)
  Events estimate_events;
};
Result<Conversion> convert(const EntityState& estimate, const std::string& estimate_id,
                           const std::string& invoice_id, const std::string& account_id);
// The invoice this estimate was converted into ("" if none).
std::string converted(const EntityState& estimate);

}  // namespace fsm::domain::estimate

// What estimates and invoices share: line items, pricing and the entities a
// document names. Totals are always computed here (domain/money), never taken
// from a body.
#pragma once

#include "domain/aggregate.h"

namespace fsm::domain::document {

inline constexpr std::size_t kMaxLineItems = 200;

const std::vector<FieldSpec>& line_item_fields();
FieldSpec tax_rate_field();
// Patch fields: the document's own, minus what is fixed at creation.
std::vector<FieldSpec> patchable(std::vector<FieldSpec> specs);

// Validates a body with `line_items` (1 to 200 line objects) beside the flat
// fields; every problem is reported with its path. On create, line_items is
// required; a patch may carry line items only.
Result<nlohmann::json> validate(const nlohmann::json& body, const std::vector<FieldSpec>& specs,
                                Mode mode);

// Prices `lines` (validated, or as stored) into `doc`: line_items (each with
// id — kept if it has one, else a fresh one —, sort_order and total_cents),
// tax_rate_bps, subtotal_cents, tax_cents, total_cents.
std::optional<Error> price(nlohmann::json& doc, const nlohmann::json& lines, int tax_rate_bps);
// The tax rate `fields` set, else the state's, else 0.
int tax_of(const nlohmann::json& fields, const EntityState* state);
// A patch's changes with line items and totals repriced when it touches them.
Result<nlohmann::json> repriced(const EntityState& doc, const nlohmann::json& patch);

// The entities a document names: its client, and job/property when given
// (each must be the client's). `only_changed`: just those `changes` sets.
std::vector<Reference> references(const nlohmann::json& doc,
                                  const nlohmann::json* only_changed = nullptr);

}  // namespace fsm::domain::document

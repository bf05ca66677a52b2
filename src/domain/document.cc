#include "domain/document.h"

#include "common/uuid.h"
#include "domain/money.h"

namespace fsm::domain::document {

using nlohmann::json;

const std::vector<FieldSpec>& line_item_fields() {
  static const std::vector<FieldSpec> f = {text_field("description", true, 500),
                                           {"quantity", FieldType::kQuantity, true, false},
                                           {"unit_price_cents",
                                            FieldType::kInt,
                                            true,
                                            false,
                                            0,
                                            {},
                                            -money::kMaxCents,
                                            money::kMaxCents}};
  return f;
}

FieldSpec tax_rate_field() {
  return FieldSpec{"tax_rate_bps", FieldType::kInt, false, false, 0, {}, 0, money::kMaxTaxRateBps};
}

std::vector<FieldSpec> patchable(std::vector<FieldSpec> specs) {
  return for_patch(without(std::move(specs), {"client_id", "estimate_id"}));
}

Result<json> validate(const json& body, const std::vector<FieldSpec>& specs, Mode mode) {
  json flat = body;
  std::optional<json> lines;
  if (flat.contains("line_items")) {
    lines = flat["line_items"];
    flat.erase("line_items");
  }
  std::vector<Issue> issues;
  auto fields = validate_body(flat, specs, mode);
  if (!fields) issues = fields.error().issues;
  if (mode == Mode::kPatch && lines && flat.empty()) issues.clear();  // lines only
  if (!lines && mode == Mode::kCreate) issues.push_back({{"line_items"}, "is required"});
  json out = fields ? *fields : json::object();
  if (lines) {
    if (!lines->is_array() || lines->empty() || lines->size() > kMaxLineItems) {
      issues.push_back({{"line_items"}, "must be an array of 1 to 200 line items"});
    } else {
      json validated = json::array();
      for (std::size_t i = 0; i < lines->size(); ++i) {
        auto line = validate_body((*lines)[i], line_item_fields(), Mode::kCreate);
        if (!line) {
          for (auto issue : line.error().issues) {
            issue.path.insert(issue.path.begin(),
                              {std::string("line_items"), static_cast<std::int64_t>(i)});
            issues.push_back(std::move(issue));
          }
        } else {
          validated.push_back(*line);
        }
      }
      out["line_items"] = validated;
    }
  }
  if (!issues.empty()) return Error::validation(std::move(issues));
  return out;
}

std::optional<Error> price(json& doc, const json& lines, int tax_rate_bps) {
  std::vector<money::Line> priced_lines;
  for (const auto& l : lines) {
    const std::string q =
        l["quantity"].is_string() ? l["quantity"].get<std::string>() : l["quantity"].dump();
    priced_lines.push_back({*money::parse_quantity(q), l["unit_price_cents"].get<std::int64_t>()});
  }
  auto totals = money::compute_totals(priced_lines, tax_rate_bps);
  if (!totals) return totals.error();
  json priced = json::array();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json l = lines[i];
    if (!l.contains("id")) l["id"] = new_uuid();
    l["quantity"] = money::format_quantity(priced_lines[i].quantity_hundredths);
    l["sort_order"] = static_cast<int>(i);
    l["total_cents"] = totals->line_totals[i];
    priced.push_back(std::move(l));
  }
  doc["line_items"] = std::move(priced);
  doc["tax_rate_bps"] = tax_rate_bps;
  doc["subtotal_cents"] = totals->subtotal_cents;
  doc["tax_cents"] = totals->tax_cents;
  doc["total_cents"] = totals->total_cents;
  return std::nullopt;
}

int tax_of(const json& fields, const EntityState* state) {
  if (fields.contains("tax_rate_bps") && fields["tax_rate_bps"].is_number_integer()) {
    return fields["tax_rate_bps"].get<int>();
  }
  if (state && state->fields.contains("tax_rate_bps")) return state->fields["tax_rate_bps"];
  return 0;
}

Result<json> repriced(const EntityState& doc, const json& patch) {
  json changes = patch;
  if (changes.contains("line_items") || changes.contains("tax_rate_bps")) {
    const json& lines =
        changes.contains("line_items") ? changes["line_items"] : doc.fields["line_items"];
    if (auto e = price(changes, lines, tax_of(changes, &doc))) return *e;
  }
  return changes;
}

std::vector<Reference> references(const json& d, const json* only_changed) {
  auto wanted = [only_changed](const char* field) {
    return !only_changed || only_changed->contains(field);
  };
  std::vector<Reference> refs;
  if (wanted("client_id")) {
    refs.push_back({"client", d["client_id"], bad_reference("client_id", "client")});
  }
  if (d["job_id"].is_string() && wanted("job_id")) {
    refs.push_back({"job", d["job_id"], bad_reference("job_id", "job"), "client_id",
                    d["client_id"].get<std::string>(), std::nullopt,
                    Error::validation({{{"job_id"}, "must be a job of the same client"}})});
  }
  if (d["property_id"].is_string() && wanted("property_id")) {
    refs.push_back({"property", d["property_id"], bad_reference("property_id", "property"),
                    "client_id", d["client_id"].get<std::string>(), std::nullopt,
                    Error::validation({{{"property_id"}, "must be a property of the client"}})});
  }
  return refs;
}

}  // namespace fsm::domain::document

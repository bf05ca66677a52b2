// Strict request bodies: every unknown field, missing required field and
// ill-typed value is reported, each with its JSON path (VALIDATION_ERROR).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/result.h"

namespace fsm::domain {

enum class FieldType {
  kText,       // non-empty after trimming, up to max_length characters
  kEmail,      // text with one '@' and a dot in the domain; stored lower-cased
  kUuid,       // canonical UUID; stored lower-cased
  kTimestamp,  // RFC 3339, any offset; stored as UTC with milliseconds
  kEnum,       // one of `choices`
  kInt,        // integer within [min, max]
  kPassword,   // 8..256 characters
  kQuantity,   // a number > 0 with at most two decimals; stored as its decimal text ("1.5")
  kBool,       // true or false
  kObject,     // a JSON object, kept as sent: its aggregate checks what it holds
};

// parse_json_object keeps a number with a fraction or exponent as its text,
// in an object {kDecimalKey: "1.50"}, so no value passes through a double.
inline constexpr const char* kDecimalKey = "$decimal";
// The decimal text of an integer or of such a number; nullopt for anything else.
std::optional<std::string> decimal_text(const nlohmann::json& value);

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kText;
  bool required = false;     // on create
  bool nullable = false;     // may be sent as null (clears it)
  std::size_t max_length = 500;
  std::vector<std::string> choices = {};
  long long min = 0;
  long long max = 0;
};

enum class Mode { kCreate, kPatch };

// Validates `body` against `specs` and returns the normalised fields (trimmed
// text, lower-cased emails and ids, UTC timestamps). On create, absent optional
// fields come back as null so every field is present.
Result<nlohmann::json> validate_body(const nlohmann::json& body, const std::vector<FieldSpec>& specs,
                                     Mode mode);

// Parses a request body: not JSON, or not an object, is a VALIDATION_ERROR.
Result<nlohmann::json> parse_json_object(const std::string& text);

}  // namespace fsm::domain

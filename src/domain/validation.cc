#include "domain/validation.h"

#include <algorithm>
#include <set>

#include "common/time.h"
#include "common/uuid.h"
#include "domain/money.h"

namespace fsm::domain {
namespace {

using nlohmann::json;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Counts UTF-8 code points (the body has already been parsed as valid JSON).
std::size_t char_count(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](unsigned char c) { return (c & 0xC0) != 0x80; }));
}

bool plausible_email(const std::string& s) {
  const auto at = s.find('@');
  if (at == std::string::npos || at == 0 || s.find('@', at + 1) != std::string::npos) return false;
  const auto dot = s.find('.', at);
  return dot != std::string::npos && dot > at + 1 && dot + 1 < s.size() &&
         s.find_first_of(" \t\r\n,;<>") == std::string::npos;
}

// Returns the normalised value, or an error message.
std::variant<json, std::string> check(const FieldSpec& spec, const json& v) {
  switch (spec.type) {
    case FieldType::kText:
    case FieldType::kEmail:
    case FieldType::kPassword: {
      if (!v.is_string()) return std::string("must be a string");
      const std::string raw = v.get<std::string>();
      if (spec.type == FieldType::kPassword) {
        const auto n = char_count(raw);
        if (n < 8) return std::string("must be at least 8 characters");
        if (n > 256) return std::string("must be at most 256 characters");
        return json(raw);
      }
      std::string s = trim(raw);
      if (s.empty()) return std::string("must not be empty");
      if (char_count(s) > spec.max_length) {
        return "must be at most " + std::to_string(spec.max_length) + " characters";
      }
      if (s.find('\0') != std::string::npos) return std::string("must not contain NUL");
      if (spec.type == FieldType::kEmail) {
        s = lower(s);
        if (!plausible_email(s)) return std::string("must be an email address");
      }
      return json(s);
    }
    case FieldType::kUuid: {
      if (!v.is_string() || !is_uuid(v.get<std::string>())) return std::string("must be a UUID");
      return json(lower(v.get<std::string>()));
    }
    case FieldType::kTimestamp: {
      if (!v.is_string()) return std::string("must be an RFC 3339 timestamp");
      bool out_of_range = false;
      auto t = parse_rfc3339(v.get<std::string>(), &out_of_range);
      if (out_of_range) {
        return std::string("must be from ") + kEarliestTimestamp + " through " + kLatestTimestamp +
               " (in UTC)";
      }
      if (!t) return std::string("must be an RFC 3339 timestamp");
      return json(format_rfc3339(*t));
    }
    case FieldType::kEnum: {
      if (!v.is_string() ||
          std::find(spec.choices.begin(), spec.choices.end(), v.get<std::string>()) ==
              spec.choices.end()) {
        std::string list;
        for (const auto& c : spec.choices) list += (list.empty() ? "" : ", ") + c;
        return "must be one of: " + list;
      }
      return v;
    }
    case FieldType::kQuantity: {
      const auto text = decimal_text(v);
      const auto hundredths = text ? money::parse_quantity(*text) : std::nullopt;
      if (!hundredths) {
        return std::string("must be a number > 0 with at most two decimals, up to 1000000");
      }
      return json(money::format_quantity(*hundredths));
    }
    case FieldType::kBool: {
      if (!v.is_boolean()) return std::string("must be true or false");
      return v;
    }
    case FieldType::kObject: {
      // A number with a fraction arrives as {"$decimal": ...}: not an object.
      if (!v.is_object() || decimal_text(v)) return std::string("must be an object");
      return v;
    }
    case FieldType::kInt: {
      if (!v.is_number_integer()) return std::string("must be an integer");
      const auto n = v.get<long long>();
      if (n < spec.min || n > spec.max) {
        return "must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max);
      }
      return v;
    }
  }
  return std::string("unsupported field");
}

}  // namespace

Result<json> validate_body(const json& body, const std::vector<FieldSpec>& specs, Mode mode) {
  std::vector<Issue> issues;
  if (!body.is_object()) {
    return Error::validation({{{}, "body must be a JSON object"}});
  }
  json out = json::object();
  for (const auto& [key, value] : body.items()) {
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&k = key](const FieldSpec& s) { return s.name == k; });
    if (spec == specs.end()) {
      issues.push_back({{key}, "unknown field"});
      continue;
    }
    if (value.is_null()) {
      if (spec->nullable) {
        out[key] = nullptr;
      } else {
        issues.push_back({{key}, spec->required ? "is required" : "must not be null"});
      }
      continue;
    }
    auto checked = check(*spec, value);
    if (auto* msg = std::get_if<std::string>(&checked)) {
      issues.push_back({{key}, *msg});
    } else {
      out[key] = std::get<json>(std::move(checked));
    }
  }
  if (mode == Mode::kCreate) {
    for (const auto& spec : specs) {
      if (body.contains(spec.name)) continue;
      if (spec.required) {
        issues.push_back({{spec.name}, "is required"});
      } else {
        out[spec.name] = nullptr;
      }
    }
  } else if (body.empty()) {
    issues.push_back({{}, "no fields to change"});
  }
  if (!issues.empty()) return Error::validation(std::move(issues));
  return out;
}

namespace {

// Builds the DOM like nlohmann's own parser, except that a number with a
// fraction or exponent is kept as its text ({"$decimal": "1.50"}): money
// paths never see a double. A key that comes twice in one object stops the
// parse (nlohmann would keep the last; another reader might keep the first).
class DecimalPreservingSax {
 public:
  explicit DecimalPreservingSax(json& root) : dom_(root, /*allow_exceptions=*/false) {}
  bool null() { return value() && dom_.null(); }
  bool boolean(bool v) { return value() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return value() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t, const std::string& text) {
    std::string key = kDecimalKey, value_text = text;
    return value() && dom_.start_object(1) && dom_.key(key) && dom_.string(value_text) &&
           dom_.end_object();
  }
  bool string(std::string& v) { return value() && dom_.string(v); }
  bool binary(json::binary_t& v) { return value() && dom_.binary(v); }
  bool start_object(std::size_t n) {
    if (!value()) return false;
    frames_.push_back({true, {}, {}, -1});
    return dom_.start_object(n);
  }
  bool key(std::string& k) {
    auto& f = frames_.back();
    if (!f.keys.insert(k).second) {
      duplicate_ = path();
      duplicate_->push_back(k);
      return false;
    }
    f.key = k;
    return dom_.key(k);
  }
  bool end_object() {
    frames_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    if (!value()) return false;
    frames_.push_back({false, {}, {}, -1});
    return dom_.start_array(n);
  }
  bool end_array() {
    frames_.pop_back();
    return dom_.end_array();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

  // The path of a key that came twice, when that stopped the parse.
  const std::optional<std::vector<PathElement>>& duplicate() const { return duplicate_; }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;  // seen so far (objects)
    std::string key;             // the current member (objects)
    std::int64_t index;          // the current element (arrays)
  };

  // Every value (scalar or container) starts here: an array counts it.
  bool value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    return true;
  }
  std::vector<PathElement> path() const {
    std::vector<PathElement> p;
    for (const auto& f : frames_) {
      if (&f == &frames_.back()) break;  // the innermost object's key is the duplicate
      if (f.object)
        p.emplace_back(f.key);
      else
        p.emplace_back(f.index);
    }
    return p;
  }

  std::vector<Frame> frames_;
  std::optional<std::vector<PathElement>> duplicate_;
  nlohmann::detail::json_sax_dom_parser<json> dom_;
};

}  // namespace

std::optional<std::string> decimal_text(const json& v) {
  if (v.is_number_integer()) return v.dump();
  if (v.is_object() && v.size() == 1 && v.contains(kDecimalKey) && v[kDecimalKey].is_string()) {
    return v[kDecimalKey].get<std::string>();
  }
  return std::nullopt;
}

Result<json> parse_json_object(const std::string& text) {
  // nlohmann's lexer reads a NUL byte as the end of the input, so "{}\0junk"
  // would pass as "{}". JSON has no raw NUL anywhere (inside a string it
  // must be escaped), so a body holding one is malformed.
  if (text.find('\0') != std::string::npos) {
    return Error::validation({{{}, "body is not valid JSON (it contains a NUL byte)"}},
                             "malformed JSON");
  }
  json body;
  DecimalPreservingSax sax(body);
  // Strict: nothing but whitespace may follow the value.
  if (!json::sax_parse(text, &sax, json::input_format_t::json, /*strict=*/true)) {
    if (const auto& dup = sax.duplicate()) {
      return Error::validation({{*dup, "duplicate key"}}, "malformed JSON");
    }
    return Error::validation({{{}, "body is not valid JSON"}}, "malformed JSON");
  }
  if (!body.is_object()) return Error::validation({{{}, "body must be a JSON object"}});
  return body;
}

}  // namespace fsm::domain

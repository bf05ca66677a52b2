#include "domain/money.h"

namespace fsm::domain::money {

std::int64_t divide_round_half_away(__int128 numerator, std::int64_t denominator) {
  const bool negative = numerator < 0;
  const __int128 magnitude = negative ? -numerator : numerator;
  // floor((2|n| + d) / 2d) rounds |n|/d half up; the sign goes back on after.
  const __int128 rounded = (2 * magnitude + denominator) / (2 * static_cast<__int128>(denominator));
  return static_cast<std::int64_t>(negative ? -rounded : rounded);
}

std::optional<std::int64_t> parse_quantity(std::string_view text) {
  std::int64_t units = 0;
  std::size_t i = 0;
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    units = units * 10 + (text[i] - '0');
    if (units > kMaxQuantityHundredths / 100) return std::nullopt;
    ++i;
  }
  std::int64_t hundredths = units * 100;
  if (i < text.size()) {
    if (text[i] != '.') return std::nullopt;
    ++i;
    const std::size_t start = i;
    std::int64_t scale = 10;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      const int digit = text[i] - '0';
      if (scale == 0) {
        if (digit != 0) return std::nullopt;  // a third significant decimal
      } else {
        hundredths += digit * scale;
        scale /= 10;
      }
      ++i;
    }
    if (i == start || i != text.size()) return std::nullopt;
  }
  if (hundredths <= 0 || hundredths > kMaxQuantityHundredths) return std::nullopt;
  return hundredths;
}

std::string format_quantity(std::int64_t hundredths) {
  std::string out = std::to_string(hundredths / 100);
  const std::int64_t cents = hundredths % 100;
  if (cents != 0) {
    out += '.';
    out += static_cast<char>('0' + cents / 10);
    if (cents % 10 != 0) out += static_cast<char>('0' + cents % 10);
  }
  return out;
}

std::int64_t line_total(std::int64_t quantity_hundredths, std::int64_t unit_price_cents) {
  return divide_round_half_away(
      static_cast<__int128>(quantity_hundredths) * static_cast<__int128>(unit_price_cents), 100);
}

Result<Totals> compute_totals(const std::vector<Line>& lines, int tax_rate_bps) {
  Totals t;
  std::vector<Issue> issues;
  __int128 subtotal = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::int64_t total = line_total(lines[i].quantity_hundredths, lines[i].unit_price_cents);
    if (total < -kMaxCents || total > kMaxCents) {
      issues.push_back({{"line_items", static_cast<int>(i), "unit_price_cents"},
                        "the line total must stay within 2147483647 cents"});
    }
    t.line_totals.push_back(total);
    subtotal += total;
  }
  if (!issues.empty()) return Error::validation(std::move(issues));
  if (subtotal < 0) return Error::validation({{{"line_items"}, "the subtotal must not be negative"}});
  if (subtotal > kMaxCents) {
    return Error::validation({{{"line_items"}, "the subtotal must stay within 2147483647 cents"}});
  }
  t.subtotal_cents = static_cast<std::int64_t>(subtotal);
  t.tax_cents = divide_round_half_away(subtotal * tax_rate_bps, 10000);
  t.total_cents = t.subtotal_cents + t.tax_cents;
  if (t.total_cents > kMaxCents) {
    return Error::validation({{{"line_items"}, "the total must stay within 2147483647 cents"}});
  }
  return t;
}

}  // namespace fsm::domain::money

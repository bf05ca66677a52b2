// Money, exactly: integer cents, quantities in integer hundredths, rounding
// half away from zero, and no binary floating point anywhere (a quantity is
// read from the JSON text itself, never through a double). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/result.h"

namespace fsm::domain::money {

// Every amount the API stores or answers fits PostgreSQL's integer.
inline constexpr std::int64_t kMaxCents = 2147483647;  // 2^31 - 1
// 1,000,000.00 units: far beyond any real line, small enough that
// quantity x price never approaches the int64 limit.
inline constexpr std::int64_t kMaxQuantityHundredths = 100000000;
inline constexpr int kMaxTaxRateBps = 10000;

// round(numerator / denominator), ties away from zero; denominator > 0.
std::int64_t divide_round_half_away(__int128 numerator, std::int64_t denominator);

// A decimal number > 0 with at most two decimals and no exponent ("1",
// "1.5", "0.25"), as hundredths; nullopt otherwise or above the maximum.
std::optional<std::int64_t> parse_quantity(std::string_view text);
// Hundredths as the decimal text the API answers ("1.50" -> "1.5", "2").
std::string format_quantity(std::int64_t hundredths);

// round(quantity x unit price), half away from zero.
std::int64_t line_total(std::int64_t quantity_hundredths, std::int64_t unit_price_cents);

struct Line {
  std::int64_t quantity_hundredths = 0;
  std::int64_t unit_price_cents = 0;
};

struct Totals {
  std::int64_t subtotal_cents = 0;
  std::int64_t tax_cents = 0;
  std::int64_t total_cents = 0;
  std::vector<std::int64_t> line_totals;  // in the order of the lines
};

// subtotal = sum of line totals; tax = round(subtotal x bps / 10000);
// total = subtotal + tax. A VALIDATION_ERROR (path line_items / total) when a
// line total or the total leaves 0..kMaxCents.
Result<Totals> compute_totals(const std::vector<Line>& lines, int tax_rate_bps);

}  // namespace fsm::domain::money

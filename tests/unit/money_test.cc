// Exact money: rounding edges, quantity parsing, and properties checked over
// many random lines against an oracle that needs no division at all.
#include "domain/money.h"

#include <gtest/gtest.h>

#include <random>

#include "domain/validation.h"

namespace fsm::domain::money {
namespace {

TEST(Money, RoundsHalfAwayFromZero) {
  EXPECT_EQ(divide_round_half_away(250, 100), 3);    // 2.5 -> 3
  EXPECT_EQ(divide_round_half_away(249, 100), 2);
  EXPECT_EQ(divide_round_half_away(-250, 100), -3);  // -2.5 -> -3
  EXPECT_EQ(divide_round_half_away(-249, 100), -2);
  EXPECT_EQ(divide_round_half_away(0, 100), 0);
  EXPECT_EQ(line_total(150, 333), 500);   // 1.5 x 3.33 = 4.995 -> 5.00
  EXPECT_EQ(line_total(1, 1), 0);         // 0.01 x 0.01 -> 0
  EXPECT_EQ(line_total(50, 1), 1);        // 0.5 x 1 cent = 0.5 -> 1
  EXPECT_EQ(line_total(25, 2), 1);        // 0.25 x 2 = 0.5 -> 1
  EXPECT_EQ(line_total(1, 250), 3);       // 0.01 x 2.50 = 0.025 -> 0.03
}

TEST(Money, TaxOnOddSubtotalsAndLimits) {
  auto t = compute_totals({{100, 1999}, {250, 333}}, 825);  // 19.99 + 8.325 -> 8.33
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->line_totals, (std::vector<std::int64_t>{1999, 833}));
  EXPECT_EQ(t->subtotal_cents, 2832);
  EXPECT_EQ(t->tax_cents, 234);  // 2832 x 0.0825 = 233.64
  EXPECT_EQ(t->total_cents, 3066);
  auto half = compute_totals({{100, 2}}, 2500);  // 2 x 25% = 0.5 -> 1
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half->tax_cents, 1);
  EXPECT_TRUE(compute_totals({{100, kMaxCents}}, 0).ok());
  auto over = compute_totals({{100, kMaxCents}}, 1);  // tax pushes it over
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kValidation);
  EXPECT_FALSE(compute_totals({{200, kMaxCents}}, 0).ok());
  EXPECT_FALSE(compute_totals({{100, kMaxCents}, {100, 1}}, 0).ok());
  EXPECT_FALSE(compute_totals({{100, -5}}, 0).ok()) << "a negative subtotal";
  auto empty = compute_totals({}, 800);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->total_cents, 0);
}

TEST(Money, QuantitiesAreReadFromTheirDigits) {
  EXPECT_EQ(parse_quantity("1"), 100);
  EXPECT_EQ(parse_quantity("1.5"), 150);
  EXPECT_EQ(parse_quantity("0.25"), 25);
  EXPECT_EQ(parse_quantity("0.01"), 1);
  EXPECT_EQ(parse_quantity("2.50"), 250);
  EXPECT_EQ(parse_quantity("2.500"), 250) << "trailing zeros add no precision";
  EXPECT_EQ(parse_quantity("1000000"), kMaxQuantityHundredths);
  for (const char* bad : {"0", "0.00", "-1", "0.001", "1.005", "1e2", ".5", "5.", "1,5", "",
                          "1000000.01", "99999999999999999999", "0x10", "1.5 "}) {
    EXPECT_FALSE(parse_quantity(bad)) << bad;
  }
  EXPECT_EQ(format_quantity(150), "1.5");
  EXPECT_EQ(format_quantity(105), "1.05");
  EXPECT_EQ(format_quantity(200), "2");
  EXPECT_EQ(format_quantity(1), "0.01");
}

// The oracle: t is round(p / d) half away from zero iff |d*t - p| <= d/2,
// with equality only when t lies on p's side of zero.
void expect_rounded(__int128 p, std::int64_t d, std::int64_t t) {
  const __int128 diff = static_cast<__int128>(d) * t - p;
  const __int128 gap = diff < 0 ? -diff : diff;
  ASSERT_LE(2 * gap, d) << static_cast<long long>(p) << "/" << d << " -> " << t;
  if (2 * gap == d) {
    ASSERT_TRUE((p > 0 && d * static_cast<__int128>(t) > p) ||
                (p < 0 && d * static_cast<__int128>(t) < p))
        << "a tie must round away from zero";
  }
}

TEST(MoneyProperties, RandomLinesMatchTheOracle) {
  std::mt19937_64 rng(20261128);
  std::uniform_int_distribution<std::int64_t> qty(1, 9999);  // 0.01 .. 99.99
  // Mostly realistic prices (discount lines included); one round in 50 near
  // the limits, where refusals must come exactly when the oracle says so.
  std::uniform_int_distribution<std::int64_t> price(-50000, 500000), huge(0, kMaxCents);
  int computed = 0;
  std::uniform_int_distribution<int> count(0, 12), bps(0, kMaxTaxRateBps);
  for (int round = 0; round < 20000; ++round) {
    std::vector<Line> lines(count(rng));
    const bool near_limits = round % 50 == 0;
    for (auto& l : lines) l = {qty(rng), near_limits ? huge(rng) / 50 : price(rng)};
    const int rate = bps(rng);
    auto t = compute_totals(lines, rate);
    __int128 subtotal = 0;
    bool line_too_large = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const auto expected_line = line_total(lines[i].quantity_hundredths, lines[i].unit_price_cents);
      expect_rounded(static_cast<__int128>(lines[i].quantity_hundredths) * lines[i].unit_price_cents,
                     100, expected_line);
      subtotal += expected_line;
      line_too_large = line_too_large || expected_line > kMaxCents || expected_line < -kMaxCents;
    }
    // Tax by a second formula: floor, then up when the remainder is half or more.
    const __int128 product = subtotal * rate;
    const __int128 tax = subtotal < 0 ? 0 : product / 10000 + (2 * (product % 10000) >= 10000);
    if (line_too_large || subtotal < 0 || subtotal > kMaxCents || subtotal + tax > kMaxCents) {
      EXPECT_FALSE(t.ok());
      continue;
    }
    ASSERT_TRUE(t.ok());
    ++computed;
    EXPECT_EQ(t->subtotal_cents, static_cast<std::int64_t>(subtotal));
    expect_rounded(subtotal * rate, 10000, t->tax_cents);
    EXPECT_EQ(t->tax_cents, static_cast<std::int64_t>(tax));
    EXPECT_EQ(t->total_cents, t->subtotal_cents + t->tax_cents);
  }
  EXPECT_GT(computed, 15000) << "most rounds must exercise the arithmetic, not the refusals";
}

TEST(MoneyProperties, QuantityTextRoundTrips) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> h(1, kMaxQuantityHundredths);
  for (int i = 0; i < 20000; ++i) {
    const auto value = h(rng);
    EXPECT_EQ(parse_quantity(format_quantity(value)), value);
  }
}

}  // namespace
}  // namespace fsm::domain::money

namespace fsm::domain {
namespace {

TEST(DecimalBodies, NumbersWithFractionsKeepTheirDigits) {
  auto body = parse_json_object(R"({"q": 0.1, "n": 3, "big": 1.0000000000000000001, "e": 1e2})");
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(decimal_text((*body)["q"]), "0.1");
  EXPECT_EQ(decimal_text((*body)["n"]), "3");
  EXPECT_EQ(decimal_text((*body)["big"]), "1.0000000000000000001") << "no double rounding";
  EXPECT_EQ(decimal_text((*body)["e"]), "1e2");
  EXPECT_FALSE(parse_json_object("{\"q\": 1e999999}").ok());
  EXPECT_FALSE(parse_json_object("{\"q\": 0.1").ok());
}

TEST(DecimalBodies, QuantitiesValidateExactly) {
  const std::vector<FieldSpec> specs = {{"quantity", FieldType::kQuantity, true, false},
                                        {"name", FieldType::kText, false, true}};
  auto ok = validate_body(*parse_json_object(R"({"quantity": 1.50})"), specs, Mode::kCreate);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["quantity"], "1.5");
  EXPECT_EQ((*validate_body(*parse_json_object(R"({"quantity": 2})"), specs, Mode::kCreate))
                ["quantity"],
            "2");
  for (const char* bad : {R"({"quantity": 0})", R"({"quantity": 0.001})", R"({"quantity": -1})",
                          R"({"quantity": 1e2})", R"({"quantity": "1.5"})",
                          R"({"quantity": 1.005})", R"({"quantity": 1000000.01})"}) {
    auto r = validate_body(*parse_json_object(bad), specs, Mode::kCreate);
    EXPECT_FALSE(r.ok()) << bad;
  }
  // A fraction where text is expected is still a type error, not text.
  EXPECT_FALSE(validate_body(*parse_json_object(R"({"quantity": 1, "name": 1.5})"), specs,
                             Mode::kCreate)
                   .ok());
}

}  // namespace
}  // namespace fsm::domain

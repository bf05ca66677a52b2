#include <gtest/gtest.h>
#include <sodium.h>

#include <date/date.h>

#include <random>
#include <set>

#include "common/env.h"
#include "common/time.h"
#include "common/uuid.h"

namespace fsm {
namespace {

TEST(Time, FormatsUtcWithMilliseconds) {
  auto t = parse_rfc3339("2026-11-28T09:30:00.123456Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2026-11-28T09:30:00.123Z");
}

// The hand-written formatter agrees with date::format everywhere: across
// leap days, month ends, before 1970 and up to year 9999.
TEST(Time, FormatsLikeDateFormatForAnyInstant) {
  std::mt19937_64 rng(42);
  const std::int64_t lo = -62135596800000000LL, hi = 253402300799999999LL;  // 0001..9999
  std::uniform_int_distribution<std::int64_t> any(lo, hi), near(-5e15, 5e15);
  for (int i = 0; i < 20000; ++i) {
    const Timestamp t = from_unix_micros(i % 2 ? any(rng) : near(rng));
    EXPECT_EQ(format_rfc3339(t),
              date::format("%FT%TZ", std::chrono::floor<std::chrono::milliseconds>(t)))
        << to_unix_micros(t);
  }
}

TEST(Time, AcceptsAnyOffsetAndAnswersInUtc) {
  auto t = parse_rfc3339("2026-11-28T11:30:00+02:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2026-11-28T09:30:00.000Z");
  auto u = parse_rfc3339("2026-11-28T04:00:00-05:30");
  ASSERT_TRUE(u);
  EXPECT_EQ(format_rfc3339(*u), "2026-11-28T09:30:00.000Z");
}

TEST(Time, RejectsWhatIsNotRfc3339) {
  for (const char* bad : {"", "2026-11-28", "2026-11-28T09:30:00", "yesterday",
                          "2026-13-28T09:30:00Z", "2026-11-28T09:30:00Zjunk",
                          "2026-11-28T25:30:00Z",
                          // Found by the fuzzer: garbage in the seconds made
                          // date.h convert a NaN (undefined behaviour).
                          "2026-11-28T09:title+1$:00", "2026-11-28T09:30:nan+00:00",
                          "2026-11-28T09:30:00.+01:00", "2026-11-28T09:30:00+1:00"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

// The API's instants are years 0001..9999 in UTC: PostgreSQL has no year 0,
// and a five-digit year does not fit the contract's format. The range applies
// after the offset is applied.
TEST(Time, RefusesInstantsOutsideYears1To9999InUtc) {
  for (const char* bad : {"0000-01-01T00:00:00Z", "0000-12-31T23:59:59.999Z",
                          "0001-01-01T00:00:00+01:00", "0001-01-01T00:59:59.999+01:00",
                          "9999-12-31T23:59:59-14:00", "9999-12-31T23:00:00-01:00"}) {
    bool out_of_range = false;
    EXPECT_FALSE(parse_rfc3339(bad, &out_of_range)) << bad;
    EXPECT_TRUE(out_of_range) << bad;
  }
  for (const char* edge :
       {"0001-01-01T00:00:00Z", "0001-01-01T00:00:00-01:00", "0001-01-01T01:00:00+01:00",
        "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59+14:00"}) {
    bool out_of_range = true;
    auto t = parse_rfc3339(edge, &out_of_range);
    ASSERT_TRUE(t) << edge;
    EXPECT_FALSE(out_of_range) << edge;
    const std::string text = format_rfc3339(*t);
    EXPECT_EQ(text.size(), 24u) << text;
    EXPECT_GE(text, kEarliestTimestamp);
    EXPECT_LE(text, kLatestTimestamp);
  }
  bool out_of_range = true;
  EXPECT_FALSE(parse_rfc3339("yesterday", &out_of_range));
  EXPECT_FALSE(out_of_range);
}

TEST(Uuid, NewIdsAreVersion7UniqueAndTimeOrdered) {
  ASSERT_GE(sodium_init(), 0);
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 2000; ++i) {
    auto id = new_uuid();
    ASSERT_TRUE(is_uuid(id)) << id;
    EXPECT_EQ(id[14], '7');
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
    EXPECT_TRUE(seen.insert(id).second);
    EXPECT_GE(id.substr(0, 13), prev.substr(0, prev.empty() ? 0 : 13));  // ms prefix never goes back
    prev = id;
  }
}

TEST(Uuid, ValidatesCanonicalForm) {
  EXPECT_TRUE(is_uuid("0189d6f2-8a3b-7c4d-9e5f-0a1b2c3d4e5f"));
  EXPECT_TRUE(is_uuid("0189D6F2-8A3B-7C4D-9E5F-0A1B2C3D4E5F"));
  EXPECT_FALSE(is_uuid("0189d6f28a3b7c4d9e5f0a1b2c3d4e5f"));
  EXPECT_FALSE(is_uuid("0189d6f2-8a3b-7c4d-9e5f-0a1b2c3d4e5"));
  EXPECT_FALSE(is_uuid("0189d6f2-8a3b-7c4d-9e5f-0a1b2c3d4e5g"));
  EXPECT_FALSE(is_uuid("'; DROP TABLE events; --------------"));
}

TEST(Env, ParsesAndRangeChecksIntegers) {
  ::setenv("FSM_TEST_INT", "42", 1);
  EXPECT_EQ(env::get_int("FSM_TEST_INT", 1, 0, 100), 42);
  ::setenv("FSM_TEST_INT", "420", 1);
  EXPECT_THROW(env::get_int("FSM_TEST_INT", 1, 0, 100), env::ConfigError);
  ::setenv("FSM_TEST_INT", "4x", 1);
  EXPECT_THROW(env::get_int("FSM_TEST_INT", 1, 0, 100), env::ConfigError);
  ::unsetenv("FSM_TEST_INT");
  EXPECT_EQ(env::get_int("FSM_TEST_INT", 7, 0, 100), 7);
}

TEST(Env, ParsesBooleans) {
  ::setenv("FSM_TEST_BOOL", "1", 1);
  EXPECT_TRUE(env::get_bool("FSM_TEST_BOOL", false));
  ::setenv("FSM_TEST_BOOL", "no", 1);
  EXPECT_FALSE(env::get_bool("FSM_TEST_BOOL", true));
  ::setenv("FSM_TEST_BOOL", "maybe", 1);
  EXPECT_THROW(env::get_bool("FSM_TEST_BOOL", true), env::ConfigError);
  ::unsetenv("FSM_TEST_BOOL");
}

}  // namespace
}  // namespace fsm

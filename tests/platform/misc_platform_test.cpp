#include <gtest/gtest.h>

#include "core/timestamp.h"
#include "platform/policy_loader.h"
#include "platform/read_file.h"
#include "platform/system_time_zones.h"
#include "support/temp_dir.h"

namespace hoist::platform {
namespace {

using hoist::testing::TempDir;

TEST(SystemTimeZones, KnowsRealZonesAndDaylightSaving) {
  const SystemTimeZones zones;
  EXPECT_TRUE(zones.known("UTC"));
  EXPECT_TRUE(zones.known("Europe/Paris"));
  EXPECT_FALSE(zones.known("Mars/Olympus_Mons"));
  EXPECT_FALSE(zones.known(""));
  // 2026-07-01 10:00 UTC is 12:00 in Paris (CEST), a Wednesday.
  auto summer = zones.local_time("Europe/Paris", *parse_timestamp("2026-07-01T10:00:00Z"));
  ASSERT_TRUE(summer.has_value());
  EXPECT_EQ(summer->weekday, 2);
  EXPECT_EQ(summer->minute_of_day, 12 * 60);
  // 2026-01-05 23:30 UTC is Tuesday 00:30 in Paris (CET).
  auto winter = zones.local_time("Europe/Paris", *parse_timestamp("2026-01-05T23:30:00Z"));
  ASSERT_TRUE(winter.has_value());
  EXPECT_EQ(winter->weekday, 1);
  EXPECT_EQ(winter->minute_of_day, 30);
  EXPECT_FALSE(zones.local_time("Nowhere/City", *parse_timestamp("2026-01-05T23:30:00Z")).has_value());
}

TEST(ReadSmallFile, LimitsAndErrors) {
  TempDir dir;
  const auto path = dir.write("f", "12345");
  EXPECT_EQ(*read_small_file(path, 5), "12345");
  EXPECT_EQ(read_small_file(path, 4).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(read_small_file(dir.path() + "/missing", 10).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(read_small_file(dir.path(), 10).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(read_small_file("/dev/null", 10).error().code, ErrorCode::kInvalidArgument);
}

TEST(PolicyLoader, LoadsTheExamplePolicy) {
  const SystemTimeZones zones;
  const auto loaded = load_policy_file(std::string(HOIST_SOURCE_DIR) + "/examples/policy.toml", zones);
  ASSERT_TRUE(loaded.policy) << (loaded.errors.empty() ? "" : loaded.errors.front().to_string());
  EXPECT_GE(loaded.policy->policy().rules.size(), 10U);
  EXPECT_NE(loaded.policy->find_rule("apt-maintenance"), nullptr);
}

TEST(PolicyLoader, ReportsUnreadableAndInvalidFilesDifferently) {
  const SystemTimeZones zones;
  TempDir dir;
  const auto missing = load_policy_file(dir.path() + "/missing.toml", zones);
  EXPECT_FALSE(missing.policy);
  EXPECT_EQ(missing.error_code, ErrorCode::kNotFound);
  ASSERT_EQ(missing.errors.size(), 1U);
  EXPECT_EQ(missing.errors[0].to_string(), dir.path() + "/missing.toml: no such file");

  const auto bad = dir.write("bad.toml", "version = 2\n");
  const auto invalid = load_policy_file(bad, zones);
  EXPECT_FALSE(invalid.policy);
  EXPECT_EQ(invalid.error_code, ErrorCode::kInvalidArgument);
  ASSERT_EQ(invalid.errors.size(), 1U);
  EXPECT_EQ(invalid.errors[0].line, 1);
}

}  // namespace
}  // namespace hoist::platform

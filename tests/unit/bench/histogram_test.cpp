// Log-linear histogram: exact small values, bounded relative error, merge, empty behaviour.
#include "histogram.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace tmc::bench {
namespace {

TEST(Histogram, EmptyReportsZero) {
  const Histogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.quantile(0.99), 0u);
  EXPECT_EQ(histogram.max(), 0u);
  EXPECT_EQ(histogram.min(), 0u);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram histogram;
  for (std::uint64_t value = 0; value < 128; ++value) histogram.record(value);
  EXPECT_EQ(histogram.quantile(0.5), 63u);  // the 64th of 128 values
  EXPECT_EQ(histogram.quantile(1.0), 127u);
  EXPECT_EQ(histogram.quantile(0.0), 0u);
  EXPECT_DOUBLE_EQ(histogram.mean(), 63.5);
}

TEST(Histogram, LargeValuesWithinOneSixtyFourth) {
  Histogram histogram;
  for (std::uint64_t value = 1; value <= 1'000'000; ++value) histogram.record(value * 1000);
  for (const double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = q * 1e9;
    const auto reported = static_cast<double>(histogram.quantile(q));
    EXPECT_GE(reported, exact * (1 - 1.0 / 64)) << q;
    EXPECT_LE(reported, exact * (1 + 1.0 / 64)) << q;
  }
  EXPECT_EQ(histogram.max(), 1'000'000'000u);
  EXPECT_EQ(histogram.quantile(1.0), 1'000'000'000u);  // capped at the exact maximum
}

TEST(Histogram, HugeValuesDoNotOverflowTheBuckets) {
  Histogram histogram;
  histogram.record(UINT64_MAX);
  histogram.record(std::uint64_t{1} << 63);
  EXPECT_EQ(histogram.count(), 2u);
  EXPECT_EQ(histogram.max(), UINT64_MAX);
  EXPECT_GE(histogram.quantile(0.5), std::uint64_t{1} << 63);
}

TEST(Histogram, MergeAddsCountsAndKeepsExtremes) {
  Histogram a, b;
  a.record(10);
  a.record(20);
  b.record(5'000'000);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 10u);
  EXPECT_EQ(a.max(), 5'000'000u);
  EXPECT_EQ(a.quantile(0.5), 20u);
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.quantile(0.5), 0u);
}

}  // namespace
}  // namespace tmc::bench

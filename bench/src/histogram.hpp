// Log-linear latency histogram (HdrHistogram-style): fixed memory, about 1.6% relative error.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace tmc::bench {

// Records non-negative values (nanoseconds here). Buckets are exact below 128; above that every
// power of two is split into 64 linear sub-buckets, so a reported percentile is within 1/64 of
// the true value. Recording never allocates. Not thread-safe (the load generator is
// single-threaded).
class Histogram {
 public:
  Histogram();

  void record(std::uint64_t value);
  void reset();
  void merge(const Histogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const;
  // Value at quantile q in [0, 1] (the upper edge of the bucket holding it, capped at max()).
  std::uint64_t quantile(double q) const;

 private:
  static constexpr unsigned kSubBits = 7;
  static constexpr std::size_t kBuckets = (std::size_t{1} << kSubBits) + (64 - kSubBits) * 64;

  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t upper_edge(std::size_t bucket);

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  long double sum_ = 0;
};

}  // namespace tmc::bench

// Log-linear latency histogram: bucket arithmetic and quantiles.
#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tmc::bench {

Histogram::Histogram() : counts_(kBuckets, 0) {}

std::size_t Histogram::bucket_of(std::uint64_t value) {
  constexpr std::uint64_t exact = std::uint64_t{1} << kSubBits;
  if (value < exact) return static_cast<std::size_t>(value);
  // value >= 128: msb >= 7; keep the top 7 bits (64..127), the rest is the shift.
  const auto msb = static_cast<unsigned>(std::bit_width(value)) - 1;
  const unsigned shift = msb - (kSubBits - 1);
  const auto top = value >> shift;  // 64..127
  return static_cast<std::size_t>(exact + (shift - 1) * 64 + (top - 64));
}

std::uint64_t Histogram::upper_edge(std::size_t bucket) {
  constexpr std::size_t exact = std::size_t{1} << kSubBits;
  if (bucket < exact) return bucket;
  const auto shift = static_cast<unsigned>((bucket - exact) / 64 + 1);
  const auto top = static_cast<std::uint64_t>((bucket - exact) % 64 + 64);
  return ((top + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t value) {
  ++counts_[bucket_of(value)];
  ++count_;
  max_ = std::max(max_, value);
  min_ = std::min(min_, value);
  sum_ += static_cast<long double>(value);
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  max_ = 0;
  min_ = UINT64_MAX;
  sum_ = 0;
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
  sum_ += other.sum_;
}

double Histogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(upper_edge(i), max_);
  }
  return max_;
}

}  // namespace tmc::bench

// Server RSS sampled over a run (see rss_trace.hpp).
#include "rss_trace.hpp"

#include <algorithm>
#include <cmath>

namespace tmc::bench {

RssSummary RssTrace::summary() const {
  RssSummary summary;
  if (samples_.empty()) return summary;
  summary.samples = samples_.size();
  summary.start_kib = samples_.front().rss_kib;
  summary.end_kib = samples_.back().rss_kib;
  const double middle = (samples_.front().seconds + samples_.back().seconds) / 2;
  const auto nearest = std::min_element(
      samples_.begin(), samples_.end(), [middle](const Sample& a, const Sample& b) {
        return std::abs(a.seconds - middle) < std::abs(b.seconds - middle);
      });
  summary.middle_kib = nearest->rss_kib;
  for (const auto& sample : samples_) summary.peak_kib = std::max(summary.peak_kib, sample.rss_kib);
  return summary;
}

double queue_bound_kib(std::size_t stalled, std::uint64_t queue_limit_bytes) {
  return static_cast<double>(stalled) * static_cast<double>(queue_limit_bytes) / 1024.0;
}

}  // namespace tmc::bench

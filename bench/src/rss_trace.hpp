// Server RSS sampled over a run, summarised as start / middle / end / peak against a bound.
#pragma once

#include <cstdint>
#include <vector>

namespace tmc::bench {

struct RssSummary {
  double start_kib = 0;   // the first sample
  double middle_kib = 0;  // the sample nearest the middle of the run (in time)
  double end_kib = 0;     // the last sample
  double peak_kib = 0;    // the largest sample
  std::size_t samples = 0;
};

// Samples (seconds since the run began, VmRSS KiB) in time order. An empty trace gives zeros.
class RssTrace {
 public:
  void add(double seconds, double rss_kib) { samples_.push_back({seconds, rss_kib}); }
  RssSummary summary() const;

 private:
  struct Sample {
    double seconds;
    double rss_kib;
  };
  std::vector<Sample> samples_;
};

// The most a server may grow while `stalled` sessions each hold a full outbound queue of
// `queue_limit_bytes` (the server's --outbound-queue-bytes), in KiB.
double queue_bound_kib(std::size_t stalled, std::uint64_t queue_limit_bytes);

}  // namespace tmc::bench

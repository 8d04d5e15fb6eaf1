// CPU time and resident memory of another process (the server under test), from /proc.
#pragma once

#include <optional>
#include <sys/types.h>

namespace tmc::bench {

struct ProcSample {
  double cpu_seconds = 0;  // user + system, all threads (clock-tick resolution, 10 ms)
  double rss_kib = 0;      // VmRSS
};

// Reads /proc/PID/stat and /proc/PID/status; nullopt when pid <= 0 or the process is gone.
std::optional<ProcSample> sample_process(pid_t pid);

// This process's own CPU seconds (user + system), for the load generator's share.
double own_cpu_seconds();

}  // namespace tmc::bench

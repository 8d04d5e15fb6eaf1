// CPU time and resident memory of another process (the server under test).
#pragma once

#include <optional>
#include <sys/types.h>

namespace tmc::bench {

struct ProcSample {
  double cpu_seconds = 0;  // user + system, every thread, exited ones included
  double rss_kib = 0;      // VmRSS
};

// The process's CPU clock (clock_getcpuclockid: the kernel's run time of all its threads, to the
// nanosecond) and VmRSS from /proc/PID/status; nullopt when pid <= 0 or the process is gone.
// Where the clock cannot be read, utime + stime from /proc/PID/stat, in clock ticks (10 ms):
// too coarse for a phase of a few hundred handshakes.
std::optional<ProcSample> sample_process(pid_t pid);

// This process's own CPU seconds (user + system), for the load generator's share.
double own_cpu_seconds();

}  // namespace tmc::bench

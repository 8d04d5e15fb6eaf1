// CPU time and resident memory of another process (the server under test).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

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

struct ThreadSample {
  pid_t tid = 0;
  std::string name;  // /proc/PID/task/TID/comm: the server names its threads by role
  double cpu_seconds = 0;
};

// Every live thread of the process with its CPU time: the scheduler's run time to the
// nanosecond (/proc/PID/task/TID/schedstat), or utime + stime in clock ticks where that file is
// missing. Empty when pid <= 0 or the process is gone.
std::vector<ThreadSample> sample_threads(pid_t pid);

// The CPU seconds each thread name used between two samples of one process, threads of one name
// (a pool) added up, the largest first. A thread that started in between counts whole; one that
// exited in between is missing from `after` and counts nothing, so the sum can fall short of the
// process's own figure.
std::vector<std::pair<std::string, double>> cpu_by_thread_name(
    const std::vector<ThreadSample>& before, const std::vector<ThreadSample>& after);

}  // namespace tmc::bench

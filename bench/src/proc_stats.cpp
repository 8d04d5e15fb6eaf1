// Reading another process's CPU clock, /proc/PID/stat (utime, stime) and /proc/PID/status (VmRSS).
#include "proc_stats.hpp"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace tmc::bench {
namespace {

std::optional<double> cpu_clock_seconds(pid_t pid) {
  clockid_t clock{};
  timespec now{};
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &now) != 0) {
    return std::nullopt;
  }
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// utime + stime in seconds from the text of /proc/PID/stat.
std::optional<double> stat_cpu_seconds(const std::string& line) {
  // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) {
      stime = std::stoull(field);
      const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
      return static_cast<double>(utime + stime) / ticks;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcSample> sample_process(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  ProcSample sample;
  auto cpu = cpu_clock_seconds(pid);
  if (!cpu) cpu = stat_cpu_seconds(line);
  if (!cpu) return std::nullopt;
  sample.cpu_seconds = *cpu;
  std::ifstream status(dir + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      sample.rss_kib = std::stod(line.substr(6));
      break;
    }
  }
  return sample;
}

double own_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace tmc::bench

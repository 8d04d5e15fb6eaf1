// Reading another process's CPU clock, /proc/PID/stat (utime, stime), /proc/PID/status (VmRSS)
// and its threads' run times (/proc/PID/task).
#include "proc_stats.hpp"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <system_error>

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

// The first line of a file, or nothing when it cannot be read.
std::optional<std::string> first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  return line;
}

// A thread's run time: schedstat's first field (nanoseconds on the CPU), else stat's ticks.
std::optional<double> thread_cpu_seconds(const std::string& dir) {
  if (const auto line = first_line(dir + "/schedstat")) {
    errno = 0;
    char* end = nullptr;
    const unsigned long long ns = std::strtoull(line->c_str(), &end, 10);
    if (errno == 0 && end != line->c_str()) return static_cast<double>(ns) / 1e9;
  }
  if (const auto line = first_line(dir + "/stat")) return stat_cpu_seconds(*line);
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

std::vector<ThreadSample> sample_threads(pid_t pid) {
  std::vector<ThreadSample> threads;
  if (pid <= 0) return threads;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  // Threads come and go while the directory is read, and the process may end: errors end the
  // listing rather than throw.
  std::error_code error;
  for (std::filesystem::directory_iterator it(tasks, error), last; !error && it != last;
       it.increment(error)) {
    const std::string dir = it->path().string();
    const std::string tid_text = it->path().filename().string();
    char* end = nullptr;
    const long tid = std::strtol(tid_text.c_str(), &end, 10);
    if (tid <= 0 || *end != '\0') continue;
    auto name = first_line(dir + "/comm");
    auto cpu = thread_cpu_seconds(dir);
    if (!name || !cpu) continue;  // the thread exited while it was being read
    threads.push_back({static_cast<pid_t>(tid), std::move(*name), *cpu});
  }
  return threads;
}

std::vector<std::pair<std::string, double>> cpu_by_thread_name(
    const std::vector<ThreadSample>& before, const std::vector<ThreadSample>& after) {
  std::map<pid_t, double> started;
  for (const auto& thread : before) started[thread.tid] = thread.cpu_seconds;
  std::map<std::string, double> by_name;
  for (const auto& thread : after) {
    const auto earlier = started.find(thread.tid);
    const double from = earlier == started.end() ? 0 : earlier->second;
    by_name[thread.name] += std::max(thread.cpu_seconds - from, 0.0);
  }
  std::vector<std::pair<std::string, double>> result(by_name.begin(), by_name.end());
  std::stable_sort(result.begin(), result.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return result;
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

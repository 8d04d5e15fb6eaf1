// The server's CPU seconds and RSS as the load generator samples them: every thread's time, to
// well under the 10 ms of a clock tick, and nothing for a process that is gone.
#include "proc_stats.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <thread>

namespace tmc::bench {
namespace {

double clock_seconds(clockid_t clock) {
  timespec now{};
  ::clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Busy until the calling thread has used `seconds` of CPU; returns what it used.
double spin(double seconds) {
  const double start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
  double used = 0;
  while ((used = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - start) < seconds) {
  }
  return used;
}

TEST(SampleProcess, CountsAnExitedThreadsCpuToWellUnderAClockTick) {
  const auto before = sample_process(::getpid());
  ASSERT_TRUE(before.has_value());
  double used = 0;
  std::thread worker([&used] { used = spin(0.003); });
  worker.join();
  const auto after = sample_process(::getpid());
  ASSERT_TRUE(after.has_value());
  const double measured = after->cpu_seconds - before->cpu_seconds;
  // At least the thread's time; the rest is this thread starting and joining it, far below the
  // 10 ms steps of /proc/PID/stat (which would read 0 or 10 ms here).
  EXPECT_GE(measured, used);
  EXPECT_LT(measured, used + 0.005);
  EXPECT_GT(after->rss_kib, 0);
}

TEST(SampleProcess, ReadsAnotherProcesssClock) {
  int ready[2];
  int release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    spin(0.003);
    const double used = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    char byte = 0;
    if (::write(ready[1], &used, sizeof used) != sizeof used) ::_exit(1);
    ::_exit(::read(release[0], &byte, 1) == 1 ? 0 : 1);
  }
  double child_used = 0;
  ASSERT_EQ(::read(ready[0], &child_used, sizeof child_used),
            static_cast<ssize_t>(sizeof child_used));
  const auto sample = sample_process(child);
  ASSERT_EQ(::write(release[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) ::close(fd);
  ASSERT_TRUE(sample.has_value());
  EXPECT_GE(sample->cpu_seconds, child_used);
  EXPECT_LT(sample->cpu_seconds, child_used + 0.005);  // blocked in read since
}

TEST(SampleProcess, HasNothingForAProcessThatIsGone) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_FALSE(sample_process(child).has_value());
  EXPECT_FALSE(sample_process(0).has_value());
  EXPECT_FALSE(sample_process(-1).has_value());
}

}  // namespace
}  // namespace tmc::bench

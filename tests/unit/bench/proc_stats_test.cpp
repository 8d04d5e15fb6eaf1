// The server's CPU seconds and RSS as the load generator samples them: every thread's time, to
// well under the 10 ms of a clock tick, and nothing for a process that is gone; and the same
// time by thread name, which is how the server's threads say what they do.
#include "proc_stats.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
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
  // The thread is started before the first sample, so that what it costs to start one (several
  // milliseconds under ThreadSanitizer) is not counted; it spins once the sample is taken.
  std::mutex mutex;
  std::condition_variable go;
  bool sampled = false;
  double used = 0;
  std::thread worker([&] {
    std::unique_lock lock(mutex);
    go.wait(lock, [&] { return sampled; });
    used = spin(0.003);
  });
  const auto before = sample_process(::getpid());
  {
    std::lock_guard lock(mutex);
    sampled = true;
  }
  go.notify_one();
  worker.join();
  const auto after = sample_process(::getpid());
  ASSERT_TRUE(before.has_value());
  ASSERT_TRUE(after.has_value());
  const double measured = after->cpu_seconds - before->cpu_seconds;
  // At least the thread's time; the rest is waking the thread and joining it, far below the
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
  EXPECT_TRUE(sample_threads(child).empty());
  EXPECT_TRUE(sample_threads(0).empty());
}

double seconds_of(const std::vector<std::pair<std::string, double>>& by_name,
                  const std::string& name) {
  const auto it = std::find_if(by_name.begin(), by_name.end(),
                               [&name](const auto& entry) { return entry.first == name; });
  return it == by_name.end() ? -1 : it->second;
}

// A thread that names itself, then spins when told to and stays alive until released.
class NamedSpinner {
 public:
  explicit NamedSpinner(std::string name)
      : thread_([this, name = std::move(name)] {
          ::pthread_setname_np(::pthread_self(), name.c_str());
          wait_for(Stage::named, Stage::spin);
          used_ = spin(0.02);
          wait_for(Stage::spun, Stage::release);
        }) {
    wait_until(Stage::named);
  }
  ~NamedSpinner() {
    advance(Stage::release);
    thread_.join();
  }
  // Returns the CPU seconds the spin used.
  double spin_once() {
    advance(Stage::spin);
    wait_until(Stage::spun);
    return used_;
  }

 private:
  enum class Stage { starting, named, spin, spun, release };
  void advance(Stage to) {
    {
      std::lock_guard lock(mutex_);
      stage_ = to;
    }
    changed_.notify_all();
  }
  void wait_until(Stage stage) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stage_ >= stage; });
  }
  // On the thread: says it reached `reached`, then waits for `next`.
  void wait_for(Stage reached, Stage next) {
    advance(reached);
    wait_until(next);
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  Stage stage_ = Stage::starting;
  double used_ = 0;
  std::thread thread_;  // last: starts once the rest is ready
};

TEST(SampleThreads, CountsWhatANamedThreadUsedBetweenTwoSamplesUnderItsName) {
  NamedSpinner spinner("bench-spinner");
  const auto before = sample_threads(::getpid());
  ASSERT_GE(before.size(), 2u);
  const double used = spinner.spin_once();
  const auto after = sample_threads(::getpid());
  const auto by_name = cpu_by_thread_name(before, after);
  const double measured = seconds_of(by_name, "bench-spinner");
  // Its 20 ms of spinning, to well under a clock tick: the rest is waking and telling.
  EXPECT_GE(measured, used);
  EXPECT_LT(measured, used + 0.005);
  EXPECT_EQ(by_name.front().first, "bench-spinner");  // the busiest name first
}

TEST(CpuByThreadName, AddsUpAPoolCountsANewThreadWholeAndAnExitedOneNotAtAll) {
  const std::vector<ThreadSample> before = {
      {10, "tmc-server", 5.0}, {11, "tmc-worker", 1.0}, {12, "tmc-worker", 2.0},
      {13, "tmc-files", 7.0}};
  const std::vector<ThreadSample> after = {
      {10, "tmc-server", 5.5}, {11, "tmc-worker", 1.25}, {12, "tmc-worker", 2.5},
      {14, "tmc-worker", 0.5}};  // 13 exited, 14 is new
  const auto by_name = cpu_by_thread_name(before, after);
  ASSERT_EQ(by_name.size(), 2u);
  EXPECT_EQ(by_name[0].first, "tmc-worker");
  EXPECT_DOUBLE_EQ(by_name[0].second, 1.25);
  EXPECT_EQ(by_name[1].first, "tmc-server");
  EXPECT_DOUBLE_EQ(by_name[1].second, 0.5);
}

}  // namespace
}  // namespace tmc::bench

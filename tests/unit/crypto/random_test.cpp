// Random bytes and time-ordered ids: lengths, uniqueness, ordering and format.
#include "crypto/random.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tmc::crypto {
namespace {

TEST(RandomBytes, HasRequestedLengthAndVaries) {
  EXPECT_EQ(random_bytes(0), "");
  EXPECT_EQ(random_bytes(33).size(), 33u);
  EXPECT_NE(random_bytes(16), random_bytes(16));
}

std::string nonce(std::size_t n = 12) {
  std::string out(n, '\0');
  random_nonce(out.data(), out.size());
  return out;
}

TEST(RandomNonce, NeverRepeatsAcrossBufferRefillsAndThreads) {
  // 3 x 2,000 nonces of 12 bytes: each thread refills its 4 KiB buffer several times.
  std::vector<std::vector<std::string>> per_thread(3);
  std::vector<std::thread> threads;
  for (auto& nonces : per_thread) {
    threads.emplace_back([&nonces] {
      for (int i = 0; i < 2000; ++i) nonces.push_back(nonce());
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& nonces : per_thread) all.insert(nonces.begin(), nonces.end());
  EXPECT_EQ(all.size(), 6000u);
  EXPECT_EQ(nonce(0), "");
  EXPECT_EQ(nonce(5000).size(), 5000u);  // larger than the buffer serves: still filled
  EXPECT_NE(nonce(5000), nonce(5000));
}

TEST(RandomNonce, AForkedChildDoesNotHandOutItsParentsNextBytes) {
  (void)nonce();  // the buffer is filled: the child starts with a copy of it
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string mine = nonce();
    const bool sent = write(fds[1], mine.data(), mine.size()) == 12;
    _exit(sent ? 0 : 1);
  }
  close(fds[1]);
  const std::string parents = nonce();
  std::string childs(12, '\0');
  EXPECT_EQ(read(fds[0], childs.data(), childs.size()), 12);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(parents, childs);
}

TEST(RandomId, HasPrefixAndUrlSafeFixedLengthBody) {
  const std::string id = random_id("con");
  ASSERT_EQ(id.size(), 4u + 12u + 16u);
  EXPECT_EQ(id.substr(0, 4), "con_");
  for (const char c : id.substr(4)) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) << id;
  }
}

TEST(RandomId, SequentialIdsSortAscendingAndAreUnique) {
  // Thousands of ids fall into the same millisecond, exercising the in-millisecond increment.
  std::vector<std::string> ids;
  for (int i = 0; i < 20000; ++i) ids.push_back(random_id("msg"));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
}

TEST(RandomId, ConcurrentCallersGetUniqueIds) {
  constexpr int per_thread = 5000;
  std::vector<std::vector<std::string>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&result] {
      for (int i = 0; i < per_thread; ++i) result.push_back(random_id("u"));
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& result : results) {
    EXPECT_TRUE(std::is_sorted(result.begin(), result.end()));
    all.insert(result.begin(), result.end());
  }
  EXPECT_EQ(all.size(), results.size() * per_thread);
}

TEST(RandomId, TimestampPrefixReflectsTheClock) {
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string id = random_id("x");
  const long long stamp = std::stoll(id.substr(2, 12), nullptr, 16);
  EXPECT_GE(stamp, before);
  EXPECT_LT(stamp, before + 60'000);
}

}  // namespace
}  // namespace tmc::crypto

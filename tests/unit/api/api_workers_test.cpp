// The Api's worker pool: its threads are named, and it stops, every time.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "api/api.hpp"

namespace tmc::api {
namespace {

int threads_named(const std::string& wanted) {
  int count = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name == wanted) ++count;
  }
  return count;
}

// Naming holds each worker until all are named. Were the workers to outlive what they wait on,
// one could stay blocked after start-up and stop() would never return: so start and stop many.
TEST(ApiWorkers, AreNamedAndStopEveryTime) {
  ApiOptions options;
  options.worker_threads = 8;
  for (int round = 0; round < 200; ++round) {
    Api api(Services{}, options);
    if (round == 0) {
      EXPECT_EQ(threads_named("tmc-worker"), 8);
    }
    api.stop();
  }
  EXPECT_EQ(threads_named("tmc-worker"), 0);
}

}  // namespace
}  // namespace tmc::api

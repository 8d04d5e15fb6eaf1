// The Api's worker pool: its threads are named, it stops every time, and what waits for it on
// a connection is bounded.
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "api/api.hpp"
#include "telemed/v1/frames.pb.h"

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

// Keeps the responses sent on a connection.
class RecordingOutbound final : public Outbound {
 public:
  void send(std::shared_ptr<const std::string> frame, Lane) override {
    telemed::v1::ServerFrame decoded;
    ASSERT_TRUE(decoded.ParseFromString(*frame));
    std::lock_guard lock(mutex_);
    if (decoded.has_response()) responses_.push_back(decoded.response());
  }
  void close(CloseCode, std::string) override {}
  std::vector<telemed::v1::Response> responses() {
    std::lock_guard lock(mutex_);
    return responses_;
  }

 private:
  std::mutex mutex_;
  std::vector<telemed::v1::Response> responses_;
};

// Requests wait on their lane while a worker is busy; a frame may be 4 MiB, so their count
// alone does not bound what a connection keeps.
TEST(ApiQueue, RequestsWaitingOnALaneAreBoundedByTheirBytes) {
  ApiOptions options;
  options.worker_threads = 1;
  options.requests_per_second = 0;
  options.max_queued_request_bytes = 1u << 20;
  Api api(Services{}, options);
  std::promise<void> busy;
  std::promise<void> release;
  boost::asio::post(api.workers(), [&, done = release.get_future()] {
    busy.set_value();
    done.wait();
  });
  busy.get_future().wait();  // the only worker runs nothing else until released
  auto outbound = std::make_shared<RecordingOutbound>();
  auto connection = api.open(outbound, PeerInfo{"127.0.0.1:9", {}, {}});
  for (std::uint64_t id = 1; id <= 4; ++id) {  // 300 KiB each: three fit in 1 MiB
    telemed::v1::ClientFrame frame;
    frame.set_request_id(id);
    frame.mutable_get_consultation()->set_consultation_id(std::string(300u << 10, 'c'));
    connection->on_binary(frame.SerializeAsString());
  }
  const auto refused = outbound->responses();
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].request_id(), 4u);
  EXPECT_EQ(refused[0].status().code(), telemed::v1::RESOURCE_EXHAUSTED);
  release.set_value();
  connection->on_closed();
  api.stop();
}

}  // namespace
}  // namespace tmc::api

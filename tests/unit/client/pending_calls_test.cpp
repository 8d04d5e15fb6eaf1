// Request id assignment and Response matching of PendingCalls, without any I/O.
#include "tmc/client/pending_calls.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace tmc::client {
namespace {

using telemed::v1::Response;

Response response_for(std::uint64_t id, telemed::v1::Code code = telemed::v1::OK) {
  Response response;
  response.set_request_id(id);
  response.mutable_status()->set_code(code);
  return response;
}

// Records what each completion received.
struct Recorder {
  std::vector<std::pair<int, CallOutcome>> outcomes;
  PendingCalls::Completion completion(int tag) {
    return [this, tag](CallOutcome outcome) { outcomes.emplace_back(tag, std::move(outcome)); };
  }
};

TEST(PendingCalls, AssignsIncreasingIdsStartingAtOne) {
  PendingCalls calls;
  Recorder recorder;
  EXPECT_EQ(calls.start(recorder.completion(0)), 1u);
  EXPECT_EQ(calls.start(recorder.completion(1)), 2u);
  EXPECT_EQ(calls.start(recorder.completion(2)), 3u);
  EXPECT_EQ(calls.size(), 3u);
}

TEST(PendingCalls, MatchesOutOfOrderResponsesById) {
  PendingCalls calls;
  Recorder recorder;
  const auto first = calls.start(recorder.completion(10));
  const auto second = calls.start(recorder.completion(20));
  ASSERT_TRUE(calls.complete(response_for(second, telemed::v1::NOT_FOUND)));
  ASSERT_TRUE(calls.complete(response_for(first)));

  ASSERT_EQ(recorder.outcomes.size(), 2u);
  EXPECT_EQ(recorder.outcomes[0].first, 20);
  const auto& answer = std::get<Response>(recorder.outcomes[0].second);
  EXPECT_EQ(answer.request_id(), second);
  EXPECT_EQ(answer.status().code(), telemed::v1::NOT_FOUND);
  EXPECT_EQ(recorder.outcomes[1].first, 10);
  EXPECT_EQ(std::get<Response>(recorder.outcomes[1].second).request_id(), first);
  EXPECT_TRUE(calls.empty());
}

TEST(PendingCalls, DropsResponsesNobodyWaitsFor) {
  PendingCalls calls;
  Recorder recorder;
  const auto id = calls.start(recorder.completion(1));
  EXPECT_FALSE(calls.complete(response_for(0)));       // undecodable-frame answer
  EXPECT_FALSE(calls.complete(response_for(id + 7)));  // never issued
  EXPECT_TRUE(recorder.outcomes.empty());
  EXPECT_TRUE(calls.is_waiting(id));

  EXPECT_TRUE(calls.complete(response_for(id)));
  EXPECT_FALSE(calls.complete(response_for(id)));  // duplicate
  EXPECT_EQ(recorder.outcomes.size(), 1u);
}

TEST(PendingCalls, AbandonedCallIgnoresLateResponse) {
  PendingCalls calls;
  Recorder recorder;
  const auto id = calls.start(recorder.completion(1));
  EXPECT_TRUE(calls.abandon(id));
  EXPECT_FALSE(calls.abandon(id));
  EXPECT_FALSE(calls.complete(response_for(id)));
  EXPECT_TRUE(recorder.outcomes.empty());
  EXPECT_NE(calls.start(recorder.completion(2)), id);  // ids are never reused
}

TEST(PendingCalls, FailAllFailsEveryWaitingCallInIdOrder) {
  PendingCalls calls;
  Recorder recorder;
  calls.start(recorder.completion(1));
  const auto answered = calls.start(recorder.completion(2));
  calls.start(recorder.completion(3));
  ASSERT_TRUE(calls.complete(response_for(answered)));

  const auto reason = std::make_exception_ptr(std::runtime_error("connection closed (1001)"));
  calls.fail_all(reason);
  EXPECT_TRUE(calls.empty());
  ASSERT_EQ(recorder.outcomes.size(), 3u);
  EXPECT_EQ(recorder.outcomes[1].first, 1);
  EXPECT_EQ(recorder.outcomes[2].first, 3);
  for (int i : {1, 2}) {
    const auto* error = std::get_if<std::exception_ptr>(&recorder.outcomes[i].second);
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(*error, reason);
  }
}

TEST(PendingCalls, CompletionMayStartAnotherCall) {
  PendingCalls calls;
  std::uint64_t follow_up = 0;
  const auto id = calls.start([&](CallOutcome) { follow_up = calls.start([](CallOutcome) {}); });
  ASSERT_TRUE(calls.complete(response_for(id)));
  EXPECT_EQ(follow_up, id + 1);
  EXPECT_TRUE(calls.is_waiting(follow_up));

  // A call started while failing is not failed by that same fail_all.
  std::uint64_t started_while_failing = 0;
  calls.start([&](CallOutcome) { started_while_failing = calls.start([](CallOutcome) {}); });
  calls.fail_all(std::make_exception_ptr(std::runtime_error("closed")));
  EXPECT_TRUE(calls.is_waiting(started_while_failing));
  EXPECT_EQ(calls.size(), 1u);
}

}  // namespace
}  // namespace tmc::client

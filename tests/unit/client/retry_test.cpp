// Which refusals the client retries and how long it waits between retries.
#include "tmc/client/retry.hpp"

#include <gtest/gtest.h>

namespace tmc::client {
namespace {

using std::chrono::milliseconds;
namespace v1 = telemed::v1;

v1::Status status(v1::Code code) {
  v1::Status status;
  status.set_code(code);
  return status;
}

TEST(Retry, OnlyUnavailableIsTransient) {
  EXPECT_TRUE(is_transient(status(v1::UNAVAILABLE)));
  // A refusal that a retry cannot change, or one a retry might repeat with effect.
  for (const auto code : {v1::OK, v1::FAILED_PRECONDITION, v1::NOT_FOUND, v1::INTERNAL,
                          v1::UNAUTHENTICATED, v1::RESOURCE_EXHAUSTED, v1::DATA_LOSS}) {
    EXPECT_FALSE(is_transient(status(code))) << v1::Code_Name(code);
  }
}

TEST(Retry, DelayDoublesUpToTheLongest) {
  EXPECT_EQ(retry_delay(milliseconds(200), milliseconds(5000), 1), milliseconds(200));
  EXPECT_EQ(retry_delay(milliseconds(200), milliseconds(5000), 2), milliseconds(400));
  EXPECT_EQ(retry_delay(milliseconds(200), milliseconds(5000), 5), milliseconds(3200));
  EXPECT_EQ(retry_delay(milliseconds(200), milliseconds(5000), 6), milliseconds(5000));
  // Long runs of failures neither overflow nor wait longer.
  EXPECT_EQ(retry_delay(milliseconds(200), milliseconds(5000), 1000), milliseconds(5000));
  EXPECT_EQ(retry_delay(milliseconds(200), milliseconds(5000), 0), milliseconds(200));
}

}  // namespace
}  // namespace tmc::client

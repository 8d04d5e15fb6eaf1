// When a failed request is worth sending again, and how long to wait first.
#include "tmc/client/retry.hpp"

#include <algorithm>

namespace tmc::client {

bool is_transient(const telemed::v1::Status& status) {
  return status.code() == telemed::v1::UNAVAILABLE;
}

std::chrono::milliseconds retry_delay(std::chrono::milliseconds first,
                                      std::chrono::milliseconds longest, int failures) {
  // The shift is capped so that a long run of failures cannot overflow it.
  const int doublings = std::clamp(failures - 1, 0, 10);
  return std::min(first * (1 << doublings), longest);
}

}  // namespace tmc::client

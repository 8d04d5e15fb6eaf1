// When a failed request is worth sending again, and how long to wait first.
#pragma once

#include <chrono>

#include "telemed/v1/frames.pb.h"

namespace tmc::client {

// True for refusals that a later retry of the same request may clear: UNAVAILABLE (the
// server's storage is away for a moment; PROTOCOL.md makes every retry of it safe).
bool is_transient(const telemed::v1::Status& status);

// The wait before the failures-th retry in a row (1 = the first): first, doubled for each
// further failure, never more than longest.
std::chrono::milliseconds retry_delay(std::chrono::milliseconds first,
                                      std::chrono::milliseconds longest, int failures);

}  // namespace tmc::client

// Internal to tmc::crypto: turns an OpenSSL failure into an exception carrying its error queue.
#pragma once

#include <string_view>

namespace tmc::crypto::detail {

// Throws std::runtime_error("<what>: <first queued OpenSSL error>") and clears the queue.
// Used only where OpenSSL fails for reasons outside the caller's input (allocation, broken
// provider), never for authentication failures.
[[noreturn]] void throw_openssl_error(std::string_view what);

// Clears OpenSSL's per-thread error queue after an expected failure (e.g. a bad GCM tag) so a
// stale entry never shows up in a later, unrelated error message.
void clear_openssl_errors() noexcept;

}  // namespace tmc::crypto::detail

// Carrying a command on after a dropped connection or an UNAVAILABLE answer: wait, resume, retry.
#pragma once

#include <chrono>
#include <functional>

#include "cli/context.hpp"

namespace tmc::cli {

// What to retry, how long to wait between attempts and when to give up.
struct RetryPolicy {
  std::chrono::milliseconds first_retry{500};  // doubles with each failure in a row
  std::chrono::milliseconds longest_retry{5000};
  int max_retries = 30;  // after this many failures in a row, the next one is thrown
  // Also retry a refusal with UNAVAILABLE (otherwise only connection failures).
  bool retry_unavailable = true;
};

// Runs a step of a command again after each failure that a retry may cure, on a connection
// re-established with the stored token.
class Reconnecting {
 public:
  Reconnecting(CommandContext& context, RetryPolicy policy) : context_(context), policy_(policy) {}

  // Calls step(false), and after a connection failure (client::ClientError) or (if
  // policy.retry_unavailable) an UNAVAILABLE refusal (StatusError) reports it on context.err(),
  // waits, drops the connection, resumes the session and calls step(true), until step returns.
  // A resume answered UNAVAILABLE is retried the same way whatever the policy.
  // Throws the failure that comes after policy.max_retries failures in a row, and anything else
  // step or resuming throws (e.g. StatusError UNAUTHENTICATED for a revoked session) at once.
  void run(const std::function<void(bool reconnected)>& step);

  // The step got somewhere: failures are counted from zero again.
  void made_progress() { failures_ = 0; }

 private:
  CommandContext& context_;
  RetryPolicy policy_;
  int failures_ = 0;
};

}  // namespace tmc::cli

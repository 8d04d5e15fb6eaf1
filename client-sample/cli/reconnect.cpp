// Carrying a command on after a dropped connection or an UNAVAILABLE answer: wait, resume, retry.
#include "cli/reconnect.hpp"

#include <ostream>
#include <string>
#include <thread>

#include "cli/output.hpp"
#include "tmc/client/error.hpp"
#include "tmc/client/retry.hpp"

namespace tmc::cli {

void Reconnecting::run(const std::function<void(bool reconnected)>& step) {
  bool reconnect = false;
  for (;;) {
    std::string failure;
    bool resuming = false;
    try {
      if (reconnect) {
        context_.disconnect();
        resuming = true;
        context_.resume_session();
        resuming = false;
      }
      step(reconnect);
      return;
    } catch (const client::ClientError& e) {
      if (++failures_ > policy_.max_retries) throw;
      failure = std::string("connection lost (") + e.what() + ")";
    } catch (const StatusError& e) {
      // An UNAVAILABLE answer to the resume is a reconnect not made yet, whatever the policy
      // says of the step's own requests.
      if (!(policy_.retry_unavailable || resuming) || !client::is_transient(e.status()) ||
          ++failures_ > policy_.max_retries) {
        throw;
      }
      failure = "server unavailable (" + describe_status(e.status()) + ")";
    }
    const auto delay = client::retry_delay(policy_.first_retry, policy_.longest_retry, failures_);
    context_.err() << failure << "; retrying in " << delay.count() << " ms\n";
    std::this_thread::sleep_for(delay);
    reconnect = true;
  }
}

}  // namespace tmc::cli

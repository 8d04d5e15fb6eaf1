// tmc-client consult chat: one consultation's log, live, surviving dropped connections; and log.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "cli/consult_args.hpp"
#include "cli/context.hpp"
#include "cli/reconnect.hpp"
#include "telemed/v1/frames.pb.h"

namespace tmc::cli {

// The log entries after after_seq: one page of at most limit entries, or (limit 0) every page
// until the end. Throws like CommandContext::call.
telemed::v1::SyncConsultationResult fetch_log(CommandContext& context,
                                              const std::string& consultation_id,
                                              std::uint64_t after_seq, std::uint32_t limit);

// How the chat waits and retries.
struct ChatTiming {
  std::chrono::milliseconds event_poll{200};  // longest wait before reading input again
  // After a dropped connection; past max_retries the chat fails (exit 2). An UNAVAILABLE answer
  // to a post or an acknowledgement is retried on the same connection with the same back-off
  // (a message past max_retries such answers is reported and dropped); one to a read fails the
  // chat, as a counter that each successful reconnect resets would never end the retries. One to
  // the resume while reconnecting is a failed reconnect, counted and retried as such.
  RetryPolicy retry{.retry_unavailable = false};
};

// Prints the backlog after the caller's read position (or invocation.after_seq), then every new
// entry as it is posted, and posts each line of context.in() (a fresh client_msg_id each, reused
// when the post is retried after a reconnect). A dropped connection is re-established with the
// stored token and the log resumed after the last entry shown: nothing is missed or shown twice.
// Everything shown is acknowledged. Ends at end of input or a "/quit" line, once every line is
// posted. Throws StatusError when the server refuses (e.g. not a participant, session revoked),
// ClientError after timing.retry.max_retries failed reconnects in a row.
int run_chat(CommandContext& context, const telemed::v1::User& caller,
             const ConsultInvocation& invocation, const ChatTiming& timing = {});

}  // namespace tmc::cli

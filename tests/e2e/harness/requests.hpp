// Request frames and signed-in sessions for end-to-end tests (the calls the scenarios need).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "telemed/v1/frames.pb.h"
#include "test_data.hpp"
#include "tmc/client/blocking_client.hpp"

namespace tmc::e2e {

namespace v1 = ::telemed::v1;

// A consultation for a pseudonymous patient with the given specialty and urgency.
v1::ClientFrame open_consultation_frame(const std::string& specialty, v1::Urgency urgency);
v1::ClientFrame accept_consultation_frame(const std::string& consultation_id);
v1::ClientFrame get_consultation_frame(const std::string& consultation_id);
// A text message; client_msg_id makes retries idempotent.
v1::ClientFrame post_text_frame(const std::string& consultation_id,
                                const std::string& client_msg_id, const std::string& text);
v1::ClientFrame sync_consultation_frame(const std::string& consultation_id,
                                        std::uint64_t after_seq, std::uint32_t limit);

// A client connected to options and signed in as login. Throws client::ClientError when the
// connection fails and std::runtime_error when the login is refused.
struct Session {
  std::unique_ptr<client::BlockingClient> client;
  std::string token;
  std::string user_id;
};
Session sign_in(const client::ClientOptions& options, const DemoLogin& login);

// Calls frame and returns the Consultation of an OK response; throws std::runtime_error
// (with the status) otherwise.
v1::Consultation call_for_consultation(client::BlockingClient& client, v1::ClientFrame frame);

// The whole log of a consultation, paging through has_more with after_seq. Throws
// std::runtime_error on a non-OK response.
std::vector<v1::LogEntry> sync_whole_log(client::BlockingClient& client,
                                         const std::string& consultation_id);

}  // namespace tmc::e2e

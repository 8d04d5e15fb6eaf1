// Request frames and signed-in sessions for end-to-end tests (the calls the scenarios need).
#include "requests.hpp"

#include <stdexcept>

namespace tmc::e2e {
namespace {

std::string describe(const v1::Response& response) {
  return v1::Code_Name(response.status().code()) + " " + response.status().message();
}

}  // namespace

v1::ClientFrame open_consultation_frame(const std::string& specialty, v1::Urgency urgency) {
  v1::ClientFrame frame;
  auto* open = frame.mutable_open_consultation();
  open->set_specialty(specialty);
  open->set_urgency(urgency);
  open->mutable_patient()->set_reference("P-E2E-0001");
  open->mutable_patient()->set_age_years(34);
  open->mutable_patient()->set_sex(v1::SEX_FEMALE);
  open->set_question("Displaced distal radius fracture: reduce here or transfer?");
  open->set_clinical_summary("Fall from a horse; neurovascularly intact.");
  return frame;
}

v1::ClientFrame accept_consultation_frame(const std::string& consultation_id) {
  v1::ClientFrame frame;
  frame.mutable_accept_consultation()->set_consultation_id(consultation_id);
  return frame;
}

v1::ClientFrame get_consultation_frame(const std::string& consultation_id) {
  v1::ClientFrame frame;
  frame.mutable_get_consultation()->set_consultation_id(consultation_id);
  return frame;
}

v1::ClientFrame post_text_frame(const std::string& consultation_id,
                                const std::string& client_msg_id, const std::string& text) {
  v1::ClientFrame frame;
  auto* post = frame.mutable_post_message();
  post->set_consultation_id(consultation_id);
  post->set_client_msg_id(client_msg_id);
  post->mutable_body()->set_text(text);
  return frame;
}

v1::ClientFrame sync_consultation_frame(const std::string& consultation_id,
                                        std::uint64_t after_seq, std::uint32_t limit) {
  v1::ClientFrame frame;
  auto* sync = frame.mutable_sync_consultation();
  sync->set_consultation_id(consultation_id);
  sync->set_after_seq(after_seq);
  sync->set_limit(limit);
  return frame;
}

Session sign_in(const client::ClientOptions& options, const DemoLogin& login) {
  Session session;
  session.client = std::make_unique<client::BlockingClient>(options);
  session.client->connect();
  const auto response = session.client->login(login.username, login.password);
  if (response.status().code() != v1::OK) {
    throw std::runtime_error("login of " + login.username + " refused: " + describe(response));
  }
  session.token = response.login().session_token();
  session.user_id = response.login().user().id();
  return session;
}

v1::Consultation call_for_consultation(client::BlockingClient& client, v1::ClientFrame frame) {
  const auto response = client.call(std::move(frame));
  if (response.status().code() != v1::OK || !response.has_consultation()) {
    throw std::runtime_error("consultation request failed: " + describe(response));
  }
  return response.consultation();
}

std::vector<v1::LogEntry> sync_whole_log(client::BlockingClient& client,
                                         const std::string& consultation_id) {
  constexpr std::uint32_t page = 500;
  std::vector<v1::LogEntry> entries;
  std::uint64_t after = 0;
  for (;;) {
    const auto response = client.call(sync_consultation_frame(consultation_id, after, page));
    if (response.status().code() != v1::OK) {
      throw std::runtime_error("sync_consultation failed: " + describe(response));
    }
    const auto& result = response.sync_consultation();
    for (const auto& entry : result.entries()) entries.push_back(entry);
    if (!result.has_more()) return entries;
    if (result.entries().empty()) throw std::runtime_error("sync: has_more without entries");
    after = result.entries().rbegin()->seq();
  }
}

}  // namespace tmc::e2e

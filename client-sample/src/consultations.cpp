// Typed consultation requests: ClientFrame builders (for Client) and a BlockingClient wrapper.
#include "tmc/client/consultations.hpp"

#include <array>
#include <random>
#include <utility>

namespace tmc::client {

using telemed::v1::ClientFrame;
using telemed::v1::Consultation;
using telemed::v1::Response;

std::string new_client_msg_id() {
  std::random_device source;  // the kernel's random source; ids need only be unique
  std::array<unsigned char, 16> bytes{};
  for (auto& byte : bytes) byte = static_cast<unsigned char>(source());
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char digits[] = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    id += digits[bytes[i] >> 4];
    id += digits[bytes[i] & 0x0F];
  }
  return id;
}

namespace requests {

ClientFrame open_consultation(telemed::v1::OpenConsultationRequest request) {
  ClientFrame frame;
  *frame.mutable_open_consultation() = std::move(request);
  return frame;
}

ClientFrame get_consultation(const std::string& consultation_id) {
  ClientFrame frame;
  frame.mutable_get_consultation()->set_consultation_id(consultation_id);
  return frame;
}

ClientFrame list_consultations(telemed::v1::ConsultationState state, std::uint32_t page_size,
                               const std::string& page_token) {
  ClientFrame frame;
  auto& list = *frame.mutable_list_consultations();
  list.set_state(state);
  list.set_page_size(page_size);
  list.set_page_token(page_token);
  return frame;
}

ClientFrame accept_consultation(const std::string& consultation_id) {
  ClientFrame frame;
  frame.mutable_accept_consultation()->set_consultation_id(consultation_id);
  return frame;
}

ClientFrame decline_consultation(const std::string& consultation_id, const std::string& reason) {
  ClientFrame frame;
  frame.mutable_decline_consultation()->set_consultation_id(consultation_id);
  frame.mutable_decline_consultation()->set_reason(reason);
  return frame;
}

ClientFrame cancel_consultation(const std::string& consultation_id, const std::string& reason) {
  ClientFrame frame;
  frame.mutable_cancel_consultation()->set_consultation_id(consultation_id);
  frame.mutable_cancel_consultation()->set_reason(reason);
  return frame;
}

ClientFrame close_consultation(const std::string& consultation_id) {
  ClientFrame frame;
  frame.mutable_close_consultation()->set_consultation_id(consultation_id);
  return frame;
}

ClientFrame assign_consultation(const std::string& consultation_id,
                                const std::string& specialist_id) {
  ClientFrame frame;
  frame.mutable_assign_consultation()->set_consultation_id(consultation_id);
  frame.mutable_assign_consultation()->set_specialist_id(specialist_id);
  return frame;
}

ClientFrame invite_participant(const std::string& consultation_id, const std::string& user_id) {
  ClientFrame frame;
  frame.mutable_invite_participant()->set_consultation_id(consultation_id);
  frame.mutable_invite_participant()->set_user_id(user_id);
  return frame;
}

ClientFrame post_message(const std::string& consultation_id, const std::string& client_msg_id,
                         telemed::v1::MessageBody body) {
  ClientFrame frame;
  auto& post = *frame.mutable_post_message();
  post.set_consultation_id(consultation_id);
  post.set_client_msg_id(client_msg_id);
  *post.mutable_body() = std::move(body);
  return frame;
}

ClientFrame post_text(const std::string& consultation_id, const std::string& client_msg_id,
                      const std::string& text) {
  telemed::v1::MessageBody body;
  body.set_text(text);
  return post_message(consultation_id, client_msg_id, std::move(body));
}

ClientFrame post_note(const std::string& consultation_id, const std::string& client_msg_id,
                      const std::string& title, const std::string& text) {
  telemed::v1::MessageBody body;
  body.mutable_note()->set_title(title);
  body.mutable_note()->set_text(text);
  return post_message(consultation_id, client_msg_id, std::move(body));
}

ClientFrame ack_messages(const std::string& consultation_id, std::uint64_t up_to_seq) {
  ClientFrame frame;
  frame.mutable_ack_messages()->set_consultation_id(consultation_id);
  frame.mutable_ack_messages()->set_up_to_seq(up_to_seq);
  return frame;
}

ClientFrame sync_consultation(const std::string& consultation_id, std::uint64_t after_seq,
                              std::uint32_t limit) {
  ClientFrame frame;
  auto& sync = *frame.mutable_sync_consultation();
  sync.set_consultation_id(consultation_id);
  sync.set_after_seq(after_seq);
  sync.set_limit(limit);
  return frame;
}

ClientFrame submit_report(const std::string& consultation_id, telemed::v1::Report report) {
  ClientFrame frame;
  frame.mutable_submit_report()->set_consultation_id(consultation_id);
  *frame.mutable_submit_report()->mutable_report() = std::move(report);
  return frame;
}

}  // namespace requests

namespace {

Reply<Consultation> consultation_reply(Response response) {
  return make_reply(std::move(response), &Response::mutable_consultation);
}

}  // namespace

ConsultationClient::ConsultationClient(BlockingClient& client, Duration timeout)
    : client_(client), timeout_(timeout) {}

Response ConsultationClient::call(ClientFrame frame) {
  return client_.call(std::move(frame), timeout_);
}

Reply<Consultation> ConsultationClient::open(telemed::v1::OpenConsultationRequest request) {
  return consultation_reply(call(requests::open_consultation(std::move(request))));
}

Reply<Consultation> ConsultationClient::get(const std::string& consultation_id) {
  return consultation_reply(call(requests::get_consultation(consultation_id)));
}

Reply<telemed::v1::ListConsultationsResult> ConsultationClient::list(
    telemed::v1::ConsultationState state, std::uint32_t page_size, const std::string& page_token) {
  return make_reply(call(requests::list_consultations(state, page_size, page_token)),
                    &Response::mutable_list_consultations);
}

Reply<Consultation> ConsultationClient::accept(const std::string& consultation_id) {
  return consultation_reply(call(requests::accept_consultation(consultation_id)));
}

Reply<Consultation> ConsultationClient::decline(const std::string& consultation_id,
                                                const std::string& reason) {
  return consultation_reply(call(requests::decline_consultation(consultation_id, reason)));
}

Reply<Consultation> ConsultationClient::cancel(const std::string& consultation_id,
                                               const std::string& reason) {
  return consultation_reply(call(requests::cancel_consultation(consultation_id, reason)));
}

Reply<Consultation> ConsultationClient::close(const std::string& consultation_id) {
  return consultation_reply(call(requests::close_consultation(consultation_id)));
}

Reply<Consultation> ConsultationClient::assign(const std::string& consultation_id,
                                               const std::string& specialist_id) {
  return consultation_reply(call(requests::assign_consultation(consultation_id, specialist_id)));
}

Reply<Consultation> ConsultationClient::invite(const std::string& consultation_id,
                                               const std::string& user_id) {
  return consultation_reply(call(requests::invite_participant(consultation_id, user_id)));
}

Reply<telemed::v1::PostMessageResult> ConsultationClient::post_text(
    const std::string& consultation_id, const std::string& client_msg_id,
    const std::string& text) {
  return make_reply(call(requests::post_text(consultation_id, client_msg_id, text)),
                    &Response::mutable_post_message);
}

Reply<telemed::v1::PostMessageResult> ConsultationClient::post_note(
    const std::string& consultation_id, const std::string& client_msg_id,
    const std::string& title, const std::string& text) {
  return make_reply(call(requests::post_note(consultation_id, client_msg_id, title, text)),
                    &Response::mutable_post_message);
}

Reply<telemed::v1::AckMessagesResult> ConsultationClient::ack(const std::string& consultation_id,
                                                             std::uint64_t up_to_seq) {
  return make_reply(call(requests::ack_messages(consultation_id, up_to_seq)),
                    &Response::mutable_ack_messages);
}

Reply<telemed::v1::SyncConsultationResult> ConsultationClient::sync(
    const std::string& consultation_id, std::uint64_t after_seq, std::uint32_t limit) {
  return make_reply(call(requests::sync_consultation(consultation_id, after_seq, limit)),
                    &Response::mutable_sync_consultation);
}

Reply<Consultation> ConsultationClient::submit_report(const std::string& consultation_id,
                                                      telemed::v1::Report report) {
  return consultation_reply(call(requests::submit_report(consultation_id, std::move(report))));
}

}  // namespace tmc::client

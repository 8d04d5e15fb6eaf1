// Typed consultation requests: ClientFrame builders (for Client) and a BlockingClient wrapper.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "telemed/v1/frames.pb.h"
#include "tmc/client/blocking_client.hpp"

namespace tmc::client {

// A fresh client_msg_id: a random (version 4) UUID in its 36-character text form.
std::string new_client_msg_id();

// Builders of consultation requests. Each returns a ClientFrame with request_id unset, ready for
// Client::call (async) or BlockingClient::call. They check nothing: the server validates.
namespace requests {

telemed::v1::ClientFrame open_consultation(telemed::v1::OpenConsultationRequest request);
telemed::v1::ClientFrame get_consultation(const std::string& consultation_id);
// state CONSULTATION_STATE_UNSPECIFIED = any; page_size 0 = server default; page_token empty =
// the first page.
telemed::v1::ClientFrame list_consultations(telemed::v1::ConsultationState state,
                                            std::uint32_t page_size = 0,
                                            const std::string& page_token = {});
telemed::v1::ClientFrame accept_consultation(const std::string& consultation_id);
telemed::v1::ClientFrame decline_consultation(const std::string& consultation_id,
                                              const std::string& reason = {});
telemed::v1::ClientFrame cancel_consultation(const std::string& consultation_id,
                                             const std::string& reason = {});
telemed::v1::ClientFrame close_consultation(const std::string& consultation_id);
telemed::v1::ClientFrame assign_consultation(const std::string& consultation_id,
                                             const std::string& specialist_id);
telemed::v1::ClientFrame invite_participant(const std::string& consultation_id,
                                            const std::string& user_id);
// client_msg_id makes the post idempotent: retry with the same id after a reconnect.
telemed::v1::ClientFrame post_message(const std::string& consultation_id,
                                      const std::string& client_msg_id,
                                      telemed::v1::MessageBody body);
telemed::v1::ClientFrame post_text(const std::string& consultation_id,
                                   const std::string& client_msg_id, const std::string& text);
telemed::v1::ClientFrame post_note(const std::string& consultation_id,
                                   const std::string& client_msg_id, const std::string& title,
                                   const std::string& text);
telemed::v1::ClientFrame ack_messages(const std::string& consultation_id, std::uint64_t up_to_seq);
// limit 0 = server default (100).
telemed::v1::ClientFrame sync_consultation(const std::string& consultation_id,
                                           std::uint64_t after_seq, std::uint32_t limit = 0);
telemed::v1::ClientFrame submit_report(const std::string& consultation_id,
                                       telemed::v1::Report report);

}  // namespace requests

// The typed answer to one request: the result when the server answered OK, else its Status
// (the expected refusals such as NOT_FOUND or FAILED_PRECONDITION are values, not exceptions).
template <class T>
struct Reply {
  telemed::v1::Status status;  // code OK, or why the server refused
  T value;                     // the result; default-constructed unless ok()

  bool ok() const noexcept { return status.code() == telemed::v1::OK; }
  explicit operator bool() const noexcept { return ok(); }
};

// The Reply of response; when OK, its result is moved out through the accessor `result`
// (e.g. &Response::mutable_consultation).
template <class T>
Reply<T> make_reply(telemed::v1::Response response, T* (telemed::v1::Response::*result)()) {
  Reply<T> reply;
  reply.status = std::move(*response.mutable_status());
  if (reply.ok()) reply.value = std::move(*(response.*result)());
  return reply;
}

// Consultation calls over a connected, logged-in BlockingClient (which it does not own and which
// must outlive it). Thread-safe like BlockingClient. Every call throws ClientError when the
// connection fails or times out (see BlockingClient::call); server refusals come back as Reply.
class ConsultationClient {
 public:
  using Duration = BlockingClient::Duration;

  explicit ConsultationClient(BlockingClient& client,
                              Duration timeout = BlockingClient::default_timeout);

  Reply<telemed::v1::Consultation> open(telemed::v1::OpenConsultationRequest request);
  Reply<telemed::v1::Consultation> get(const std::string& consultation_id);
  Reply<telemed::v1::ListConsultationsResult> list(telemed::v1::ConsultationState state,
                                                   std::uint32_t page_size = 0,
                                                   const std::string& page_token = {});
  Reply<telemed::v1::Consultation> accept(const std::string& consultation_id);
  Reply<telemed::v1::Consultation> decline(const std::string& consultation_id,
                                           const std::string& reason = {});
  Reply<telemed::v1::Consultation> cancel(const std::string& consultation_id,
                                          const std::string& reason = {});
  Reply<telemed::v1::Consultation> close(const std::string& consultation_id);
  Reply<telemed::v1::Consultation> assign(const std::string& consultation_id,
                                          const std::string& specialist_id);
  Reply<telemed::v1::Consultation> invite(const std::string& consultation_id,
                                          const std::string& user_id);
  Reply<telemed::v1::PostMessageResult> post_text(const std::string& consultation_id,
                                                  const std::string& client_msg_id,
                                                  const std::string& text);
  Reply<telemed::v1::PostMessageResult> post_note(const std::string& consultation_id,
                                                  const std::string& client_msg_id,
                                                  const std::string& title,
                                                  const std::string& text);
  Reply<telemed::v1::AckMessagesResult> ack(const std::string& consultation_id,
                                            std::uint64_t up_to_seq);
  Reply<telemed::v1::SyncConsultationResult> sync(const std::string& consultation_id,
                                                  std::uint64_t after_seq,
                                                  std::uint32_t limit = 0);
  Reply<telemed::v1::Consultation> submit_report(const std::string& consultation_id,
                                                 telemed::v1::Report report);

 private:
  telemed::v1::Response call(telemed::v1::ClientFrame frame);

  BlockingClient& client_;
  Duration timeout_;
};

}  // namespace tmc::client

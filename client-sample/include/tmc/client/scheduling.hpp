// Typed scheduling requests: ClientFrame builders (for Client) and a BlockingClient wrapper.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <optional>
#include <string>

#include "telemed/v1/frames.pb.h"
#include "tmc/client/blocking_client.hpp"
#include "tmc/client/consultations.hpp"

namespace tmc::client {

// Builders of scheduling requests. Each returns a ClientFrame with request_id unset, ready for
// Client::call (async) or BlockingClient::call. They check nothing: the server validates.
namespace requests {

// Rules replace the specialist's earlier rules; single slots are added (see scheduling.proto).
telemed::v1::ClientFrame publish_availability(telemed::v1::PublishAvailabilityRequest request);
// Withdraws every rule of the specialist (empty = the caller): unbooked future slots derived
// from them go, booked ones stay.
telemed::v1::ClientFrame withdraw_availability_rules(const std::string& specialist_id = {});
// Unset from = now; unset to = 30 days after from (the server's defaults).
telemed::v1::ClientFrame list_slots(const std::string& specialty, const std::string& specialist_id,
                                    const std::optional<google::protobuf::Timestamp>& from = {},
                                    const std::optional<google::protobuf::Timestamp>& to = {});
telemed::v1::ClientFrame book_review(const std::string& slot_id,
                                     const std::string& consultation_id);
telemed::v1::ClientFrame cancel_appointment(const std::string& appointment_id,
                                            const std::string& reason = {});
telemed::v1::ClientFrame reschedule_appointment(const std::string& appointment_id,
                                                const std::string& new_slot_id);
telemed::v1::ClientFrame list_appointments(
    const std::optional<google::protobuf::Timestamp>& from = {},
    const std::optional<google::protobuf::Timestamp>& to = {});

}  // namespace requests

// Scheduling calls over a connected, logged-in BlockingClient (which it does not own and which
// must outlive it). Thread-safe like BlockingClient. Every call throws ClientError when the
// connection fails or times out; server refusals (e.g. ABORTED for a slot that filled up
// meanwhile, ALREADY_EXISTS for an overlapping slot) come back as Reply.
class SchedulingClient {
 public:
  using Duration = BlockingClient::Duration;

  explicit SchedulingClient(BlockingClient& client,
                            Duration timeout = BlockingClient::default_timeout);

  Reply<telemed::v1::PublishAvailabilityResult> publish(
      telemed::v1::PublishAvailabilityRequest request);
  Reply<telemed::v1::PublishAvailabilityResult> withdraw_rules(
      const std::string& specialist_id = {});
  Reply<telemed::v1::ListSlotsResult> list_slots(
      const std::string& specialty, const std::string& specialist_id,
      const std::optional<google::protobuf::Timestamp>& from = {},
      const std::optional<google::protobuf::Timestamp>& to = {});
  Reply<telemed::v1::Appointment> book(const std::string& slot_id,
                                       const std::string& consultation_id);
  Reply<telemed::v1::Appointment> cancel(const std::string& appointment_id,
                                         const std::string& reason = {});
  Reply<telemed::v1::Appointment> reschedule(const std::string& appointment_id,
                                             const std::string& new_slot_id);
  Reply<telemed::v1::ListAppointmentsResult> list_appointments(
      const std::optional<google::protobuf::Timestamp>& from = {},
      const std::optional<google::protobuf::Timestamp>& to = {});

 private:
  BlockingClient& client_;
  Duration timeout_;
};

}  // namespace tmc::client

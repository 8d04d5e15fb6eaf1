// Typed scheduling requests: ClientFrame builders (for Client) and a BlockingClient wrapper.
#include "tmc/client/scheduling.hpp"

#include <utility>

namespace tmc::client {

using telemed::v1::Appointment;
using telemed::v1::ClientFrame;
using telemed::v1::Response;
using Timestamp = std::optional<google::protobuf::Timestamp>;

namespace requests {

ClientFrame publish_availability(telemed::v1::PublishAvailabilityRequest request) {
  ClientFrame frame;
  *frame.mutable_publish_availability() = std::move(request);
  return frame;
}

ClientFrame withdraw_availability_rules(const std::string& specialist_id) {
  telemed::v1::PublishAvailabilityRequest request;
  request.set_specialist_id(specialist_id);
  request.set_withdraw_rules(true);
  return publish_availability(std::move(request));
}

ClientFrame list_slots(const std::string& specialty, const std::string& specialist_id,
                       const Timestamp& from, const Timestamp& to) {
  ClientFrame frame;
  auto& list = *frame.mutable_list_slots();
  list.set_specialty(specialty);
  list.set_specialist_id(specialist_id);
  if (from) *list.mutable_from() = *from;
  if (to) *list.mutable_to() = *to;
  return frame;
}

ClientFrame book_review(const std::string& slot_id, const std::string& consultation_id) {
  ClientFrame frame;
  frame.mutable_book_review()->set_slot_id(slot_id);
  frame.mutable_book_review()->set_consultation_id(consultation_id);
  return frame;
}

ClientFrame cancel_appointment(const std::string& appointment_id, const std::string& reason) {
  ClientFrame frame;
  frame.mutable_cancel_appointment()->set_appointment_id(appointment_id);
  frame.mutable_cancel_appointment()->set_reason(reason);
  return frame;
}

ClientFrame reschedule_appointment(const std::string& appointment_id,
                                   const std::string& new_slot_id) {
  ClientFrame frame;
  frame.mutable_reschedule_appointment()->set_appointment_id(appointment_id);
  frame.mutable_reschedule_appointment()->set_new_slot_id(new_slot_id);
  return frame;
}

ClientFrame list_appointments(const Timestamp& from, const Timestamp& to) {
  ClientFrame frame;
  auto& list = *frame.mutable_list_appointments();
  if (from) *list.mutable_from() = *from;
  if (to) *list.mutable_to() = *to;
  return frame;
}

}  // namespace requests

SchedulingClient::SchedulingClient(BlockingClient& client, Duration timeout)
    : client_(client), timeout_(timeout) {}

Reply<telemed::v1::PublishAvailabilityResult> SchedulingClient::publish(
    telemed::v1::PublishAvailabilityRequest request) {
  return make_reply(client_.call(requests::publish_availability(std::move(request)), timeout_),
                    &Response::mutable_publish_availability);
}

Reply<telemed::v1::PublishAvailabilityResult> SchedulingClient::withdraw_rules(
    const std::string& specialist_id) {
  return make_reply(client_.call(requests::withdraw_availability_rules(specialist_id), timeout_),
                    &Response::mutable_publish_availability);
}

Reply<telemed::v1::ListSlotsResult> SchedulingClient::list_slots(const std::string& specialty,
                                                                 const std::string& specialist_id,
                                                                 const Timestamp& from,
                                                                 const Timestamp& to) {
  return make_reply(
      client_.call(requests::list_slots(specialty, specialist_id, from, to), timeout_),
      &Response::mutable_list_slots);
}

Reply<Appointment> SchedulingClient::book(const std::string& slot_id,
                                          const std::string& consultation_id) {
  return make_reply(client_.call(requests::book_review(slot_id, consultation_id), timeout_),
                    &Response::mutable_appointment);
}

Reply<Appointment> SchedulingClient::cancel(const std::string& appointment_id,
                                            const std::string& reason) {
  return make_reply(client_.call(requests::cancel_appointment(appointment_id, reason), timeout_),
                    &Response::mutable_appointment);
}

Reply<Appointment> SchedulingClient::reschedule(const std::string& appointment_id,
                                                const std::string& new_slot_id) {
  return make_reply(
      client_.call(requests::reschedule_appointment(appointment_id, new_slot_id), timeout_),
      &Response::mutable_appointment);
}

Reply<telemed::v1::ListAppointmentsResult> SchedulingClient::list_appointments(
    const Timestamp& from, const Timestamp& to) {
  return make_reply(client_.call(requests::list_appointments(from, to), timeout_),
                    &Response::mutable_list_appointments);
}

}  // namespace tmc::client

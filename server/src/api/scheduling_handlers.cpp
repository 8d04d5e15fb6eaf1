// Scheduling requests: availability, slots, bookings and appointments.
#include <algorithm>
#include <optional>

#include "api/handler_context.hpp"
#include "domain/scheduling_service.hpp"

namespace tmc::api {
namespace {

domain::SchedulingService* scheduling(Context& ctx) { return ctx.api.services().scheduling; }

domain::AvailabilityRule from_proto(const v1::AvailabilityRule& rule) {
  domain::AvailabilityRule out;
  for (int day : rule.weekdays()) out.weekdays.push_back(static_cast<domain::Weekday>(day));
  out.local_start = rule.local_start();
  out.local_end = rule.local_end();
  out.time_zone = rule.time_zone();
  // Clamped so that out-of-range values reach validate_rule() as out of range, not wrapped.
  out.slot_minutes = static_cast<int>(std::min<std::uint32_t>(rule.slot_minutes(), 1u << 20));
  out.capacity = static_cast<int>(std::min<std::uint32_t>(rule.capacity(), 1u << 20));
  out.valid_from = rule.valid_from();
  out.valid_until = rule.valid_until();
  return out;
}

domain::SlotSpan from_proto(const v1::Slot& slot) {
  return {api::from_proto(slot.starts_at()), api::from_proto(slot.ends_at()),
          static_cast<int>(std::min<std::uint32_t>(slot.capacity(), 1u << 20))};
}

std::optional<TimePoint> optional_time(bool present, const google::protobuf::Timestamp& time) {
  if (!present) return std::nullopt;
  return api::from_proto(time);
}

// Answers with the appointment and delivers the notifications (after the commit).
Status reply(Context& ctx, Result<domain::Outcome<store::Appointment>> outcome) {
  if (!outcome) return outcome.error();
  to_proto(outcome->value, ctx.response.mutable_appointment());
  ctx.api.publish(outcome->notifications);
  return ok();
}

}  // namespace

Status handle_scheduling(Context& ctx, const Frame& frame) {
  auto* service = scheduling(ctx);
  if (service == nullptr) {
    return make_error(Code::unimplemented, "this request is not served by this server yet");
  }
  const auto& caller = *ctx.caller;
  switch (frame.request_case()) {
    case Frame::kPublishAvailability: {
      const auto& request = frame.publish_availability();
      domain::PublishAvailability publish;
      publish.specialist_id = request.specialist_id();
      for (const auto& rule : request.rules()) publish.rules.push_back(from_proto(rule));
      for (const auto& slot : request.slots()) publish.slots.push_back(from_proto(slot));
      publish.withdraw_rules = request.withdraw_rules();
      auto slots = service->publish(caller, publish);
      if (!slots) return slots.error();
      auto* result = ctx.response.mutable_publish_availability();
      for (const auto& slot : *slots) to_proto(slot, result->add_slots());
      return ok();
    }
    case Frame::kListSlots: {
      const auto& request = frame.list_slots();
      domain::SlotFilter filter;
      filter.specialty = request.specialty();
      filter.specialist_id = request.specialist_id();
      filter.from = optional_time(request.has_from(), request.from());
      filter.to = optional_time(request.has_to(), request.to());
      auto slots = service->list_slots(caller, filter);
      if (!slots) return slots.error();
      auto* result = ctx.response.mutable_list_slots();
      for (const auto& slot : *slots) to_proto(slot, result->add_slots());
      return ok();
    }
    case Frame::kBookReview:
      return reply(ctx, service->book(caller, frame.book_review().slot_id(),
                                      frame.book_review().consultation_id()));
    case Frame::kCancelAppointment:
      return reply(ctx, service->cancel(caller, frame.cancel_appointment().appointment_id(),
                                        frame.cancel_appointment().reason()));
    case Frame::kRescheduleAppointment:
      return reply(ctx,
                   service->reschedule(caller, frame.reschedule_appointment().appointment_id(),
                                       frame.reschedule_appointment().new_slot_id()));
    case Frame::kListAppointments: {
      const auto& request = frame.list_appointments();
      auto appointments =
          service->list_appointments(caller, optional_time(request.has_from(), request.from()),
                                     optional_time(request.has_to(), request.to()));
      if (!appointments) return appointments.error();
      auto* result = ctx.response.mutable_list_appointments();
      for (const auto& appointment : *appointments) {
        to_proto(appointment, result->add_appointments());
      }
      return ok();
    }
    default:
      return make_error(Code::unimplemented, "this request is not served by this server yet");
  }
}

}  // namespace tmc::api

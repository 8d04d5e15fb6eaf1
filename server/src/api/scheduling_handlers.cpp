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

// A client's Timestamp: INVALID_ARGUMENT outside protobuf's range (years 1 to 9999), beyond
// which its microseconds would overflow.
Result<TimePoint> client_time(const google::protobuf::Timestamp& time, const std::string& field) {
  constexpr std::int64_t kFirst = -62'135'596'800;  // 0001-01-01T00:00:00Z
  constexpr std::int64_t kLast = 253'402'300'799;   // 9999-12-31T23:59:59Z
  if (time.seconds() < kFirst || time.seconds() > kLast || time.nanos() < 0 ||
      time.nanos() > 999'999'999) {
    return make_error(Code::invalid_argument,
                      field + " is not a time between the years 1 and 9999");
  }
  return api::from_proto(time);
}

Result<domain::SlotSpan> from_proto(const v1::Slot& slot, const std::string& field) {
  auto starts = client_time(slot.starts_at(), field + ".starts_at");
  if (!starts) return starts.error();
  auto ends = client_time(slot.ends_at(), field + ".ends_at");
  if (!ends) return ends.error();
  return domain::SlotSpan{*starts, *ends,
                          static_cast<int>(std::min<std::uint32_t>(slot.capacity(), 1u << 20))};
}

Result<std::optional<TimePoint>> optional_time(bool present,
                                               const google::protobuf::Timestamp& time,
                                               const std::string& field) {
  if (!present) return std::optional<TimePoint>{};
  auto parsed = client_time(time, field);
  if (!parsed) return parsed.error();
  return std::optional<TimePoint>{*parsed};
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
      for (int i = 0; i < request.slots_size(); ++i) {
        auto slot = from_proto(request.slots(i), "slots[" + std::to_string(i) + "]");
        if (!slot) return slot.error();
        publish.slots.push_back(*slot);
      }
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
      auto from = optional_time(request.has_from(), request.from(), "from");
      if (!from) return from.error();
      auto to = optional_time(request.has_to(), request.to(), "to");
      if (!to) return to.error();
      filter.from = *from;
      filter.to = *to;
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
      auto from = optional_time(request.has_from(), request.from(), "from");
      if (!from) return from.error();
      auto to = optional_time(request.has_to(), request.to(), "to");
      if (!to) return to.error();
      auto appointments = service->list_appointments(caller, *from, *to);
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

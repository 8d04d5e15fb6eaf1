// Scheduling requests: availability, slots, bookings and appointments.
#include "api/handler_context.hpp"

namespace tmc::api {

Status handle_scheduling(Context&, const Frame&) {
  return make_error(Code::unimplemented, "this request is not served by this server yet");
}

}  // namespace tmc::api

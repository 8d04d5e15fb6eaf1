// Routing deadlines: per-urgency periods and the escalate/expire decision.
#include "domain/deadlines.hpp"

namespace tmc::domain {

std::chrono::seconds DeadlinePolicy::response_time(store::Urgency urgency) const {
  switch (urgency) {
    case store::Urgency::emergency:
      return emergency;
    case store::Urgency::urgent:
      return urgent;
    case store::Urgency::routine:
    case store::Urgency::unspecified:
      return routine;
  }
  return routine;
}

TimePoint DeadlinePolicy::first_deadline(store::Urgency urgency, TimePoint offered_at) const {
  return offered_at + response_time(urgency);
}

TimePoint DeadlinePolicy::second_deadline(store::Urgency urgency, TimePoint escalated_at) const {
  return escalated_at + response_time(urgency);
}

Status validate(const DeadlinePolicy& policy) {
  using std::chrono::seconds;
  if (policy.emergency <= seconds::zero() || policy.urgent <= seconds::zero() ||
      policy.routine <= seconds::zero()) {
    return make_error(Code::invalid_argument, "deadline periods must be positive");
  }
  return ok();
}

std::optional<ConsultationAction> next_deadline_action(const store::Consultation& consultation,
                                                       TimePoint now) {
  const bool waiting = consultation.state == store::ConsultationState::requested ||
                       consultation.state == store::ConsultationState::offered;
  if (!waiting || !consultation.respond_by || *consultation.respond_by > now) return std::nullopt;
  return consultation.escalated ? ConsultationAction::expire : ConsultationAction::escalate;
}

}  // namespace tmc::domain

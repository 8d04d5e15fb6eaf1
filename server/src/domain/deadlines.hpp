// Routing deadlines: when an unanswered consultation escalates, and when it expires.
#pragma once

#include <chrono>
#include <optional>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "domain/consultation_machine.hpp"
#include "store/model.hpp"

namespace tmc::domain {

// How long specialists have to answer an offer, per urgency; filled by the app from config.
// The first deadline is one period after the offer; at it the consultation escalates (offer
// widened, coordinators told) and gets a second deadline one more period later, at which it
// expires. Both are stored in Consultation::respond_by, so they survive a restart.
struct DeadlinePolicy {
  std::chrono::seconds emergency{std::chrono::minutes(15)};
  std::chrono::seconds urgent{std::chrono::hours(2)};
  std::chrono::seconds routine{std::chrono::hours(48)};

  // The period for `urgency`; UNSPECIFIED is treated as ROUTINE.
  std::chrono::seconds response_time(store::Urgency urgency) const;

  // respond_by when the consultation is opened / offered at `offered_at`.
  TimePoint first_deadline(store::Urgency urgency, TimePoint offered_at) const;

  // respond_by after the escalation performed at `escalated_at`.
  TimePoint second_deadline(store::Urgency urgency, TimePoint escalated_at) const;
};

// INVALID_ARGUMENT unless every period is positive (for config validation at start-up).
Status validate(const DeadlinePolicy& policy);

// What the deadline scheduler must do for `consultation` at `now`: escalate when it is still
// waiting for a specialist (REQUESTED or OFFERED), not yet escalated and respond_by has passed;
// expire when it is waiting, escalated and respond_by has passed; nothing otherwise (other
// states, no respond_by, deadline in the future). Feed the action to decide() as Actor::system().
std::optional<ConsultationAction> next_deadline_action(const store::Consultation& consultation,
                                                       TimePoint now);

}  // namespace tmc::domain

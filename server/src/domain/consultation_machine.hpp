// Consultation state machine: decides every (state, action, actor) triple, without any I/O.
#pragma once

#include <string_view>

#include "common/result.hpp"
#include "store/model.hpp"

namespace tmc::domain {

// Everything that can be done to a consultation. System actions (offer, escalate, expire) are
// taken by the server itself on behalf of routing and deadlines.
enum class ConsultationAction {
  offer,          // system: routing found candidates, REQUESTED -> OFFERED
  accept,         // open candidate specialist: OFFERED -> ACCEPTED (first accept wins)
  decline,        // open candidate specialist: OFFERED -> DECLINED when the last one declines
  assign,         // coordinator of an involved organisation: REQUESTED/OFFERED -> ACCEPTED
  post_message,   // participant or coordinator: ACCEPTED -> IN_SESSION, or stays
  submit_report,  // assigned specialist: ACCEPTED/IN_SESSION -> REPORTED (once)
  close,          // requester, assigned specialist or coordinator: REPORTED -> CLOSED
  cancel,         // requester or coordinator: any non-terminal state -> CANCELLED
  escalate,       // system, first deadline: widen the offer; REQUESTED -> OFFERED if it found any
  expire,         // system, second deadline: REQUESTED/OFFERED -> EXPIRED
  invite,         // participant or coordinator: add a participant (ACCEPTED..REPORTED)
  read,           // get / sync: participants and coordinators always, open candidates on offer
  ack,            // acknowledge messages: participants and coordinators
};

// How the caller relates to one consultation. The service computes these facts from the stored
// consultation, its participants and candidates; the machine only interprets them.
struct Actor {
  store::Role role = store::Role::unspecified;
  bool is_requester = false;
  bool is_assigned_specialist = false;
  // The consultation was offered to this user and they have not declined. This stays true after
  // someone else accepts, which is how a late accept is told apart (ABORTED) from a stranger's.
  bool is_open_candidate = false;
  bool is_participant = false;  // any participant: requester, specialist, invited, coordinator
  bool is_coordinator_of_involved_org = false;  // requesting or assigned organisation
  bool is_coordinator_of_requesting_org = false;  // the requesting one (involved as well)
  bool is_system = false;                       // the server itself (routing, deadlines)

  static Actor system() {
    Actor actor;
    actor.is_system = true;
    return actor;
  }

  // True when the actor has any relationship with the consultation at all.
  bool is_related() const {
    return is_requester || is_assigned_specialist || is_open_candidate || is_participant ||
           is_coordinator_of_involved_org || is_system;
  }
};

// Facts beyond the state that some decisions depend on.
struct DecisionContext {
  // offer / escalate: open candidates after (possibly widened) routing.
  int open_candidates = 0;
  // decline: open candidates left once this decline is recorded (0: it was the last one).
  int remaining_open_candidates_after_decline = 0;
  // escalate: the consultation has already been escalated once.
  bool escalated = false;
};

struct TransitionOutcome {
  store::ConsultationState next = store::ConsultationState::unspecified;
  bool state_changed = false;
};

// Decides whether `actor` may take `action` on a consultation in `state`, and the state after it.
// The checks run in this order and the first failing one answers:
//   1. state is not a known state                       -> INTERNAL (caller bug)
//   2. actor is an ADMIN (not the system)               -> PERMISSION_DENIED: administrators
//      have no access to consultations (they already know ids from the audit log)
//   3. actor has no relationship with the consultation  -> NOT_FOUND: existence is not revealed.
//      A candidate who declined no longer has one.
//   4. actor's relationship never allows this action    -> PERMISSION_DENIED
//   5. action is not legal in this state                -> FAILED_PRECONDITION naming the state
//      and action; except an open candidate accepting after another specialist was accepted
//      (ACCEPTED, IN_SESSION, REPORTED, CLOSED)         -> ABORTED ("already accepted by another
//      specialist"): the first accept wins.
// Permissions (step 4):
//   offer, escalate, expire: system only.
//   accept: SPECIALIST who is an open candidate (or the assigned specialist, who is then told
//           FAILED_PRECONDITION). decline: SPECIALIST who is an open candidate.
//   assign: coordinator of an involved organisation.
//   post_message, invite, ack: participants and coordinators of involved organisations.
//   read: as post_message, plus open candidates (who may read only while OFFERED).
//   submit_report: the assigned SPECIALIST only.
//   close: the requester, the assigned specialist or a coordinator of an involved organisation.
//   cancel: the requester or a coordinator of an involved organisation.
// Legal states (step 5): see ConsultationAction; CLOSED, DECLINED, CANCELLED and EXPIRED are
// terminal and only allow read and ack. An error never implies a state change.
Result<TransitionOutcome> decide(store::ConsultationState state, ConsultationAction action,
                                 const Actor& actor, const DecisionContext& context = {});

// CLOSED, DECLINED, CANCELLED, EXPIRED: no further transitions.
bool is_terminal(store::ConsultationState state);
// Nothing may be written (messages, reports, invitations); same set as is_terminal.
bool is_read_only(store::ConsultationState state);
// ACCEPTED, IN_SESSION, REPORTED, CLOSED: a specialist was necessarily accepted or assigned.
bool has_assigned_specialist(store::ConsultationState state);

// Upper-case wire-style names: "REQUESTED", "IN_SESSION", ...; "UNSPECIFIED" otherwise.
std::string_view state_name(store::ConsultationState state);
// snake_case action names: "accept", "post_message", ...
std::string_view action_name(ConsultationAction action);

}  // namespace tmc::domain

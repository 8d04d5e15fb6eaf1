// Consultation state machine: the permission and transition rules documented in the header.
#include "domain/consultation_machine.hpp"

#include <string>

namespace tmc::domain {
namespace {

using store::ConsultationState;
using store::Role;

TransitionOutcome move_to(ConsultationState from, ConsultationState to) {
  return TransitionOutcome{to, from != to};
}

TransitionOutcome stay(ConsultationState state) { return TransitionOutcome{state, false}; }

Error illegal_in_state(ConsultationAction action, ConsultationState state) {
  return make_error(Code::failed_precondition, "cannot " + std::string(action_name(action)) +
                                                   " a consultation in state " +
                                                   std::string(state_name(state)));
}

bool is_known_state(ConsultationState state) {
  return state >= ConsultationState::requested && state <= ConsultationState::expired;
}

// Requester, assigned specialist, invited participants and coordinators of involved
// organisations: everyone who works on the consultation once it is under way.
bool is_collaborator(const Actor& actor) {
  return actor.is_participant || actor.is_requester || actor.is_assigned_specialist ||
         actor.is_coordinator_of_involved_org;
}

bool is_involved_coordinator(const Actor& actor) {
  return actor.role == Role::coordinator && actor.is_coordinator_of_involved_org;
}

// Step 4: may this relationship ever take this action, in some state?
bool is_permitted(ConsultationAction action, const Actor& actor) {
  switch (action) {
    case ConsultationAction::offer:
    case ConsultationAction::escalate:
    case ConsultationAction::expire:
      return actor.is_system;
    case ConsultationAction::accept:
      return actor.role == Role::specialist &&
             (actor.is_open_candidate || actor.is_assigned_specialist);
    case ConsultationAction::decline:
      return actor.role == Role::specialist && actor.is_open_candidate;
    case ConsultationAction::assign:
      return is_involved_coordinator(actor);
    case ConsultationAction::post_message:
    case ConsultationAction::invite:
    case ConsultationAction::ack:
      return is_collaborator(actor);
    case ConsultationAction::read:
      return is_collaborator(actor) || actor.is_open_candidate;
    case ConsultationAction::submit_report:
      return actor.role == Role::specialist && actor.is_assigned_specialist;
    case ConsultationAction::close:
      return actor.is_requester || actor.is_assigned_specialist || is_involved_coordinator(actor);
    case ConsultationAction::cancel:  // the county hospital's decision, not a partner's
      return actor.is_requester ||
             (actor.role == Role::coordinator && actor.is_coordinator_of_requesting_org);
  }
  return false;
}

std::string_view who_may(ConsultationAction action) {
  switch (action) {
    case ConsultationAction::offer:
    case ConsultationAction::escalate:
    case ConsultationAction::expire:
      return "only the server";
    case ConsultationAction::accept:
    case ConsultationAction::decline:
      return "only a specialist the consultation is offered to";
    case ConsultationAction::assign:
      return "only a coordinator of an involved organization";
    case ConsultationAction::post_message:
    case ConsultationAction::invite:
    case ConsultationAction::ack:
      return "only participants and coordinators of involved organizations";
    case ConsultationAction::read:
      return "only participants, candidates and coordinators of involved organizations";
    case ConsultationAction::submit_report:
      return "only the assigned specialist";
    case ConsultationAction::close:
      return "only the requester, the assigned specialist or a coordinator";
    case ConsultationAction::cancel:
      return "only the requester or a coordinator of the requesting organization";
  }
  return "nobody";
}

bool is_awaiting_specialist(ConsultationState state) {
  return state == ConsultationState::requested || state == ConsultationState::offered;
}

// ACCEPTED .. REPORTED: the consultation is under way and open for collaboration.
bool is_under_way(ConsultationState state) {
  return state == ConsultationState::accepted || state == ConsultationState::in_session ||
         state == ConsultationState::reported;
}

// Step 5: the action is permitted for this actor; is it legal in this state, and where to?
Result<TransitionOutcome> transition(ConsultationState state, ConsultationAction action,
                                     const Actor& actor, const DecisionContext& context) {
  switch (action) {
    case ConsultationAction::offer:
      if (state != ConsultationState::requested) break;
      if (context.open_candidates <= 0) {
        return make_error(Code::failed_precondition, "cannot offer: no eligible candidates");
      }
      return move_to(state, ConsultationState::offered);

    case ConsultationAction::escalate:
      if (!is_awaiting_specialist(state)) break;
      if (context.escalated) {
        return make_error(Code::failed_precondition, "consultation is already escalated");
      }
      if (state == ConsultationState::requested && context.open_candidates > 0) {
        return move_to(state, ConsultationState::offered);
      }
      return stay(state);

    case ConsultationAction::expire:
      if (!is_awaiting_specialist(state)) break;
      return move_to(state, ConsultationState::expired);

    case ConsultationAction::accept:
      if (state == ConsultationState::offered && actor.is_open_candidate) {
        return move_to(state, ConsultationState::accepted);
      }
      if (has_assigned_specialist(state) && !actor.is_assigned_specialist) {
        return make_error(Code::aborted, "already accepted by another specialist");
      }
      break;

    case ConsultationAction::decline:
      if (state != ConsultationState::offered) break;
      if (context.remaining_open_candidates_after_decline <= 0) {
        return move_to(state, ConsultationState::declined);
      }
      return stay(state);

    case ConsultationAction::assign:
      if (!is_awaiting_specialist(state)) break;
      return move_to(state, ConsultationState::accepted);

    case ConsultationAction::post_message:
      if (!is_under_way(state)) break;
      if (state == ConsultationState::accepted) {
        return move_to(state, ConsultationState::in_session);
      }
      return stay(state);

    case ConsultationAction::submit_report:
      // Once submitted, a report is not replaced (it would be lost without a trace): what the
      // specialist adds goes into the log, which keeps every entry.
      if (state != ConsultationState::accepted && state != ConsultationState::in_session) break;
      return move_to(state, ConsultationState::reported);

    case ConsultationAction::close:
      if (state != ConsultationState::reported) break;
      return move_to(state, ConsultationState::closed);

    case ConsultationAction::cancel:
      if (is_terminal(state)) break;
      return move_to(state, ConsultationState::cancelled);

    case ConsultationAction::invite:
      if (!is_under_way(state)) break;
      return stay(state);

    case ConsultationAction::read:
      // A candidate sees the case only while deciding; the offer is withdrawn afterwards.
      if (!is_collaborator(actor) && state != ConsultationState::offered) {
        return make_error(Code::failed_precondition,
                          "offer withdrawn: consultation is " + std::string(state_name(state)));
      }
      return stay(state);

    case ConsultationAction::ack:
      return stay(state);
  }
  return illegal_in_state(action, state);
}

}  // namespace

Result<TransitionOutcome> decide(ConsultationState state, ConsultationAction action,
                                 const Actor& actor, const DecisionContext& context) {
  if (!is_known_state(state)) {
    return make_error(Code::internal, "consultation has no valid state");
  }
  if (!actor.is_system && actor.role == Role::admin) {
    return make_error(Code::permission_denied, "administrators have no access to consultations");
  }
  if (!actor.is_related()) {
    return make_error(Code::not_found, "consultation not found");
  }
  if (!is_permitted(action, actor)) {
    return make_error(Code::permission_denied, std::string(who_may(action)) + " may " +
                                                   std::string(action_name(action)) +
                                                   " this consultation");
  }
  return transition(state, action, actor, context);
}

bool is_terminal(ConsultationState state) {
  return state == ConsultationState::closed || state == ConsultationState::declined ||
         state == ConsultationState::cancelled || state == ConsultationState::expired;
}

bool is_read_only(ConsultationState state) { return is_terminal(state); }

bool has_assigned_specialist(ConsultationState state) {
  return is_under_way(state) || state == ConsultationState::closed;
}

std::string_view state_name(ConsultationState state) {
  switch (state) {
    case ConsultationState::unspecified:
      return "UNSPECIFIED";
    case ConsultationState::requested:
      return "REQUESTED";
    case ConsultationState::offered:
      return "OFFERED";
    case ConsultationState::accepted:
      return "ACCEPTED";
    case ConsultationState::in_session:
      return "IN_SESSION";
    case ConsultationState::reported:
      return "REPORTED";
    case ConsultationState::closed:
      return "CLOSED";
    case ConsultationState::declined:
      return "DECLINED";
    case ConsultationState::cancelled:
      return "CANCELLED";
    case ConsultationState::expired:
      return "EXPIRED";
  }
  return "UNSPECIFIED";
}

std::string_view action_name(ConsultationAction action) {
  switch (action) {
    case ConsultationAction::offer:
      return "offer";
    case ConsultationAction::accept:
      return "accept";
    case ConsultationAction::decline:
      return "decline";
    case ConsultationAction::assign:
      return "assign";
    case ConsultationAction::post_message:
      return "post_message";
    case ConsultationAction::submit_report:
      return "submit_report";
    case ConsultationAction::close:
      return "close";
    case ConsultationAction::cancel:
      return "cancel";
    case ConsultationAction::escalate:
      return "escalate";
    case ConsultationAction::expire:
      return "expire";
    case ConsultationAction::invite:
      return "invite";
    case ConsultationAction::read:
      return "read";
    case ConsultationAction::ack:
      return "ack";
  }
  return "unknown";
}

}  // namespace tmc::domain

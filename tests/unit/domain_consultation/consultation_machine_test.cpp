// Consultation state machine: every (state, action, actor kind) against an explicit table.
#include "domain/consultation_machine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace tmc {
// Readable codes in failure messages.
static void PrintTo(Code code, std::ostream* out) {
  *out << "Code(" << static_cast<int>(code) << ")";
}
}  // namespace tmc

namespace tmc::domain {
namespace {

using store::ConsultationState;
using store::Role;
using S = ConsultationState;
using A = ConsultationAction;

enum class Kind {
  requester,             // clinician who opened it
  open_candidate,        // specialist it is offered to, not declined
  declined_candidate,    // specialist who declined: no relationship left
  assigned_specialist,   // specialist who accepted or was assigned
  invited_participant,   // e.g. a radiologist invited into the session
  involved_coordinator,  // coordinator of the requesting organisation
  partner_coordinator,   // coordinator of the assigned specialist's (or an invitee's) organisation
  unrelated_coordinator,
  unrelated_clinician,
  admin,
  system,
};

constexpr std::array kAllKinds = {Kind::requester,
                                  Kind::open_candidate,
                                  Kind::declined_candidate,
                                  Kind::assigned_specialist,
                                  Kind::invited_participant,
                                  Kind::involved_coordinator,
                                  Kind::partner_coordinator,
                                  Kind::unrelated_coordinator,
                                  Kind::unrelated_clinician,
                                  Kind::admin,
                                  Kind::system};

constexpr std::array kAllStates = {S::requested,  S::offered,   S::accepted,
                                   S::in_session, S::reported,  S::closed,
                                   S::declined,   S::cancelled, S::expired};

// Column order of the permission matrix below.
constexpr std::array kAllActions = {A::offer,        A::accept,        A::decline, A::assign,
                                    A::post_message, A::submit_report, A::close,   A::cancel,
                                    A::escalate,     A::expire,        A::invite,  A::read,
                                    A::ack};

Actor make_actor(Kind kind) {
  Actor actor;
  switch (kind) {
    case Kind::requester:
      actor.role = Role::clinician;
      actor.is_requester = true;
      actor.is_participant = true;
      break;
    case Kind::open_candidate:
      actor.role = Role::specialist;
      actor.is_open_candidate = true;
      break;
    case Kind::declined_candidate:
      actor.role = Role::specialist;
      break;
    case Kind::assigned_specialist:
      actor.role = Role::specialist;
      actor.is_assigned_specialist = true;
      actor.is_participant = true;
      break;
    case Kind::invited_participant:
      actor.role = Role::specialist;
      actor.is_participant = true;
      break;
    case Kind::involved_coordinator:
      actor.role = Role::coordinator;
      actor.is_coordinator_of_involved_org = true;
      actor.is_coordinator_of_requesting_org = true;
      break;
    case Kind::partner_coordinator:
      actor.role = Role::coordinator;
      actor.is_coordinator_of_involved_org = true;
      break;
    case Kind::unrelated_coordinator:
      actor.role = Role::coordinator;
      break;
    case Kind::unrelated_clinician:
      actor.role = Role::clinician;
      break;
    case Kind::admin:
      actor.role = Role::admin;
      break;
    case Kind::system:
      actor = Actor::system();
      break;
  }
  return actor;
}

// Permission matrix (steps 2-4 of decide): one row per actor kind, one column per action in
// kAllActions order. 'N' NOT_FOUND, 'P' PERMISSION_DENIED, '.' permitted: the outcome then
// depends on the state (legal transition below, ABORTED below, else FAILED_PRECONDITION).
// clang-format off
const std::map<Kind, std::string> kPermissions = {
    // columns: a=offer b=accept c=decline d=assign e=post_message f=submit_report
    //          g=close h=cancel i=escalate j=expire k=invite l=read m=ack
    //                             a b c d e f g h i j k l m
    {Kind::requester,             "P P P P . P . . P P . . ."},
    {Kind::open_candidate,        "P . . P P P P P P P P . P"},
    {Kind::declined_candidate,    "N N N N N N N N N N N N N"},
    {Kind::assigned_specialist,   "P . P P . . . P P P . . ."},
    {Kind::invited_participant,   "P P P P . P P P P P . . ."},
    {Kind::involved_coordinator,  "P P P . . P . . P P . . ."},
    {Kind::partner_coordinator,   "P P P . . P . P P P . . ."},
    {Kind::unrelated_coordinator, "N N N N N N N N N N N N N"},
    {Kind::unrelated_clinician,   "N N N N N N N N N N N N N"},
    {Kind::admin,                 "P P P P P P P P P P P P P"},
    {Kind::system,                ". P P P P P P P . . P P P"},
};
// clang-format on

using Key = std::tuple<S, A, Kind>;

// Every legal transition, written out: (state, action, actor) -> next state. Decided with the
// default test context: one open candidate, one left after a decline, not yet escalated.
std::map<Key, S> legal_transitions() {
  std::map<Key, S> legal;
  auto add = [&](std::vector<Kind> kinds, A action, std::vector<std::pair<S, S>> moves) {
    for (auto kind : kinds) {
      for (auto [from, to] : moves) legal[{from, action, kind}] = to;
    }
  };
  const std::vector<Kind> collaborators = {Kind::requester, Kind::assigned_specialist,
                                           Kind::invited_participant, Kind::involved_coordinator,
                                           Kind::partner_coordinator};

  add({Kind::system}, A::offer, {{S::requested, S::offered}});
  add({Kind::system}, A::escalate, {{S::requested, S::offered}, {S::offered, S::offered}});
  add({Kind::system}, A::expire, {{S::requested, S::expired}, {S::offered, S::expired}});
  add({Kind::open_candidate}, A::accept, {{S::offered, S::accepted}});
  add({Kind::open_candidate}, A::decline, {{S::offered, S::offered}});
  add({Kind::involved_coordinator, Kind::partner_coordinator}, A::assign,
      {{S::requested, S::accepted}, {S::offered, S::accepted}});
  add(collaborators, A::post_message,
      {{S::accepted, S::in_session}, {S::in_session, S::in_session}, {S::reported, S::reported}});
  add({Kind::assigned_specialist}, A::submit_report,
      {{S::accepted, S::reported}, {S::in_session, S::reported}});
  add({Kind::requester, Kind::assigned_specialist, Kind::involved_coordinator,
       Kind::partner_coordinator},
      A::close,
      {{S::reported, S::closed}});
  add({Kind::requester, Kind::involved_coordinator}, A::cancel,
      {{S::requested, S::cancelled},
       {S::offered, S::cancelled},
       {S::accepted, S::cancelled},
       {S::in_session, S::cancelled},
       {S::reported, S::cancelled}});
  add(collaborators, A::invite,
      {{S::accepted, S::accepted}, {S::in_session, S::in_session}, {S::reported, S::reported}});
  std::vector<std::pair<S, S>> every_state_stays;
  for (auto state : kAllStates) every_state_stays.emplace_back(state, state);
  add(collaborators, A::read, every_state_stays);
  add(collaborators, A::ack, every_state_stays);
  add({Kind::open_candidate}, A::read, {{S::offered, S::offered}});
  return legal;
}

// A late accept after another specialist was accepted: the first accept won.
bool is_lost_race(S state, A action, Kind kind) {
  return action == A::accept && kind == Kind::open_candidate &&
         (state == S::accepted || state == S::in_session || state == S::reported ||
          state == S::closed);
}

Code expected_error(S state, A action, Kind kind) {
  auto column = static_cast<std::size_t>(std::find(kAllActions.begin(), kAllActions.end(), action) -
                                         kAllActions.begin());
  switch (kPermissions.at(kind).at(column * 2)) {
    case 'N':
      return Code::not_found;
    case 'P':
      return Code::permission_denied;
    default:
      return is_lost_race(state, action, kind) ? Code::aborted : Code::failed_precondition;
  }
}

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::requester:
      return "requester";
    case Kind::open_candidate:
      return "open candidate";
    case Kind::declined_candidate:
      return "declined candidate";
    case Kind::assigned_specialist:
      return "assigned specialist";
    case Kind::invited_participant:
      return "invited participant";
    case Kind::involved_coordinator:
      return "involved coordinator";
    case Kind::partner_coordinator:
      return "partner coordinator";
    case Kind::unrelated_coordinator:
      return "unrelated coordinator";
    case Kind::unrelated_clinician:
      return "unrelated clinician";
    case Kind::admin:
      return "admin";
    case Kind::system:
      return "system";
  }
  return "?";
}

std::string describe(S state, A action, Kind kind) {
  return std::string(state_name(state)) + " / " + std::string(action_name(action)) + " / " +
         std::string(kind_name(kind));
}

TEST(ConsultationMachine, EveryStateActionActorMatchesTheTable) {
  DecisionContext context;
  context.open_candidates = 1;
  context.remaining_open_candidates_after_decline = 1;
  context.escalated = false;
  const auto legal = legal_transitions();
  int checked = 0;
  int allowed = 0;
  for (auto state : kAllStates) {
    for (auto action : kAllActions) {
      for (auto kind : kAllKinds) {
        SCOPED_TRACE(describe(state, action, kind));
        auto outcome = decide(state, action, make_actor(kind), context);
        ++checked;
        if (auto it = legal.find({state, action, kind}); it != legal.end()) {
          ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
          EXPECT_EQ(outcome->next, it->second);
          EXPECT_EQ(outcome->state_changed, it->second != state);
          ++allowed;
          continue;
        }
        ASSERT_FALSE(outcome.has_value())
            << "unexpectedly allowed, next state " << state_name(outcome->next);
        auto expected = expected_error(state, action, kind);
        EXPECT_EQ(outcome.error().code, expected) << outcome.error().message;
        EXPECT_FALSE(outcome.error().message.empty());
      }
    }
  }
  EXPECT_EQ(checked, 9 * 13 * 11);
  EXPECT_EQ(allowed, static_cast<int>(legal.size()));  // every listed transition was reached
}

TEST(ConsultationMachine, IllegalTransitionNamesStateAndAction) {
  Actor requester = make_actor(Kind::requester);
  auto outcome = decide(S::offered, A::post_message, requester);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code, Code::failed_precondition);
  EXPECT_NE(outcome.error().message.find("OFFERED"), std::string::npos);
  EXPECT_NE(outcome.error().message.find("post_message"), std::string::npos);
}

TEST(ConsultationMachine, LateAcceptIsAbortedWithAClearMessage) {
  auto outcome = decide(S::accepted, A::accept, make_actor(Kind::open_candidate));
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code, Code::aborted);
  EXPECT_EQ(outcome.error().message, "already accepted by another specialist");
}

TEST(ConsultationMachine, AcceptedSpecialistStillFlaggedAsCandidateIsNotAborted) {
  Actor winner = make_actor(Kind::assigned_specialist);
  winner.is_open_candidate = true;  // the store keeps their undeclined candidate record
  auto outcome = decide(S::accepted, A::accept, winner);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code, Code::failed_precondition);
}

TEST(ConsultationMachine, LastDeclineDeclinesTheConsultation) {
  DecisionContext context;
  context.remaining_open_candidates_after_decline = 0;
  auto outcome = decide(S::offered, A::decline, make_actor(Kind::open_candidate), context);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->next, S::declined);
  EXPECT_TRUE(outcome->state_changed);
}

TEST(ConsultationMachine, OfferNeedsCandidates) {
  DecisionContext context;
  context.open_candidates = 0;
  auto outcome = decide(S::requested, A::offer, Actor::system(), context);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code, Code::failed_precondition);
}

TEST(ConsultationMachine, EscalationWithoutCandidatesKeepsWaiting) {
  DecisionContext context;
  context.open_candidates = 0;
  auto outcome = decide(S::requested, A::escalate, Actor::system(), context);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->next, S::requested);
  EXPECT_FALSE(outcome->state_changed);
}

TEST(ConsultationMachine, EscalatesOnlyOnce) {
  DecisionContext context;
  context.open_candidates = 3;
  context.escalated = true;
  auto outcome = decide(S::offered, A::escalate, Actor::system(), context);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code, Code::failed_precondition);
}

TEST(ConsultationMachine, CoordinatorWhoIsAlsoParticipantMayStillAssign) {
  Actor coordinator = make_actor(Kind::involved_coordinator);
  coordinator.is_participant = true;
  auto outcome = decide(S::offered, A::assign, coordinator);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->next, S::accepted);
}

TEST(ConsultationMachine, UnspecifiedStateIsAnInternalError) {
  auto outcome = decide(S::unspecified, A::read, make_actor(Kind::requester));
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code, Code::internal);
}

TEST(ConsultationMachine, TerminalStatesAreReadOnly) {
  for (auto state : kAllStates) {
    const bool terminal =
        state == S::closed || state == S::declined || state == S::cancelled || state == S::expired;
    EXPECT_EQ(is_terminal(state), terminal) << state_name(state);
    EXPECT_EQ(is_read_only(state), terminal) << state_name(state);
  }
  EXPECT_EQ(state_name(S::in_session), "IN_SESSION");
  EXPECT_EQ(action_name(A::submit_report), "submit_report");
}

}  // namespace
}  // namespace tmc::domain

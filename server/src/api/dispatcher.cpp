// Maps each decoded request to the domain service that serves it and encodes the outcome.
#include "api/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "api/codec.hpp"
#include "api/connection.hpp"

namespace tmc::api {
namespace {

using Frame = v1::ClientFrame;

// Everything one handler needs; handlers return an Error or fill response's result.
struct Context {
  Api& api;
  ApiConnection& connection;
  const domain::Caller* caller;  // null before login/resume
  v1::Response& response;
};

void fill_login(const domain::LoginOutcome& outcome, v1::Response& response) {
  auto* result = response.mutable_login();
  result->set_session_token(outcome.session_token);
  to_proto(outcome.caller.user, result->mutable_user());
  *result->mutable_expires_at() = to_proto(outcome.expires_at);
}

// A hospital gateway's client certificate binds the connection to one organisation.
Status check_certificate_binding(const Context& ctx, const store::User& user) {
  const auto& bound = ctx.connection.peer().client_cert_organization;
  if (!bound.empty() && bound != user.organization_id) {
    return make_error(Code::permission_denied,
                      "client certificate belongs to another organisation");
  }
  return ok();
}

Status start_session(Context& ctx, Result<domain::LoginOutcome> outcome) {
  if (!outcome) return outcome.error();
  if (auto bound = check_certificate_binding(ctx, outcome->caller.user); !bound) return bound;
  ctx.connection.set_caller(outcome->caller);
  fill_login(*outcome, ctx.response);
  return ok();
}

Status handle_login(Context& ctx, const v1::LoginRequest& request) {
  if (ctx.caller != nullptr) {
    return make_error(Code::failed_precondition, "this connection is already signed in");
  }
  return start_session(ctx, ctx.api.services().auth->login(
                                request.username(), request.password(),
                                ctx.connection.peer().remote_address));
}

Status handle_resume(Context& ctx, const v1::ResumeRequest& request) {
  if (ctx.caller != nullptr) {
    return make_error(Code::failed_precondition, "this connection is already signed in");
  }
  return start_session(ctx, ctx.api.services().auth->resume(
                                request.session_token(), ctx.connection.peer().remote_address));
}

Status handle_logout(Context& ctx) {
  const domain::Caller caller = *ctx.caller;
  if (auto status = ctx.api.services().auth->logout(caller); !status) return status;
  ctx.connection.set_caller(std::nullopt);
  // Other connections that resumed the same token lose it too.
  for (auto& session : ctx.api.registry().sessions_of(caller.user.id)) {
    auto other = session->caller();
    if (other && other->session_token_hash == caller.session_token_hash) {
      session->end_session(CloseCode::policy_violation, "logged out");
    }
  }
  ctx.response.mutable_logout();
  return ok();
}

Status handle_list_organizations(Context& ctx) {
  auto listing = ctx.api.services().directory->list_organizations(*ctx.caller);
  if (!listing) return listing.error();
  auto* result = ctx.response.mutable_list_organizations();
  for (const auto& organization : listing->organizations) {
    to_proto(organization, result->add_organizations());
  }
  for (const auto& pairing : listing->pairings) to_proto(pairing, result->add_pairings());
  return ok();
}

Status handle_list_specialists(Context& ctx, const v1::ListSpecialistsRequest& request) {
  auto users = ctx.api.services().directory->list_specialists(*ctx.caller, request.specialty(),
                                                              request.organization_id());
  if (!users) return users.error();
  auto* result = ctx.response.mutable_list_specialists();
  for (const auto& user : *users) to_proto(user, result->add_users());
  return ok();
}

domain::ConsultationService& consultations(Context& ctx) {
  return *ctx.api.services().consultations;
}

// Answers with the consultation and delivers the notifications (after the commit).
Status reply(Context& ctx, Result<domain::Outcome<domain::ConsultationView>> outcome) {
  if (!outcome) return outcome.error();
  to_proto(outcome->value, ctx.response.mutable_consultation());
  ctx.api.publish(outcome->notifications);
  return ok();
}

Status handle_consultation(Context& ctx, const Frame& frame) {
  const auto& caller = *ctx.caller;
  auto& service = consultations(ctx);
  switch (frame.request_case()) {
    case Frame::kOpenConsultation:
      return reply(ctx, service.open(caller, from_proto(frame.open_consultation())));
    case Frame::kGetConsultation: {
      auto view = service.get(caller, frame.get_consultation().consultation_id());
      if (!view) return view.error();
      to_proto(*view, ctx.response.mutable_consultation());
      return ok();
    }
    case Frame::kListConsultations: {
      const auto& request = frame.list_consultations();
      auto page = service.list(caller, from_proto(request.state()),
                               static_cast<int>(std::min<std::uint32_t>(request.page_size(), 1000)),
                               request.page_token());
      if (!page) return page.error();
      auto* result = ctx.response.mutable_list_consultations();
      for (const auto& view : page->consultations) to_proto(view, result->add_consultations());
      result->set_next_page_token(page->next_page_token);
      return ok();
    }
    case Frame::kAcceptConsultation:
      return reply(ctx, service.accept(caller, frame.accept_consultation().consultation_id()));
    case Frame::kDeclineConsultation:
      return reply(ctx, service.decline(caller, frame.decline_consultation().consultation_id(),
                                        frame.decline_consultation().reason()));
    case Frame::kCancelConsultation:
      return reply(ctx, service.cancel(caller, frame.cancel_consultation().consultation_id(),
                                       frame.cancel_consultation().reason()));
    case Frame::kCloseConsultation:
      return reply(ctx, service.close(caller, frame.close_consultation().consultation_id()));
    case Frame::kAssignConsultation:
      return reply(ctx, service.assign(caller, frame.assign_consultation().consultation_id(),
                                       frame.assign_consultation().specialist_id()));
    case Frame::kInviteParticipant:
      return reply(ctx, service.invite(caller, frame.invite_participant().consultation_id(),
                                       frame.invite_participant().user_id()));
    case Frame::kSubmitReport:
      return reply(ctx, service.submit_report(caller, frame.submit_report().consultation_id(),
                                              from_proto(frame.submit_report().report())));
    case Frame::kPostMessage: {
      const auto& request = frame.post_message();
      auto posted = service.post_message(caller, request.consultation_id(),
                                         request.client_msg_id(), from_proto(request.body()));
      if (!posted) return posted.error();
      auto* result = ctx.response.mutable_post_message();
      result->set_seq(static_cast<std::uint64_t>(posted->value.seq));
      *result->mutable_posted_at() = to_proto(posted->value.posted_at);
      ctx.api.publish(posted->notifications);
      return ok();
    }
    case Frame::kAckMessages: {
      const auto& request = frame.ack_messages();
      if (request.up_to_seq() > static_cast<std::uint64_t>(INT64_MAX)) {
        return make_error(Code::out_of_range, "up_to_seq is beyond the last message");
      }
      auto acked = service.ack(caller, request.consultation_id(),
                               static_cast<std::int64_t>(request.up_to_seq()));
      if (!acked) return acked.error();
      ctx.response.mutable_ack_messages();
      ctx.api.publish(acked->notifications);
      return ok();
    }
    case Frame::kSyncConsultation: {
      const auto& request = frame.sync_consultation();
      if (request.after_seq() > static_cast<std::uint64_t>(INT64_MAX)) {
        return make_error(Code::out_of_range, "after_seq is out of range");
      }
      auto page = service.sync(caller, request.consultation_id(),
                               static_cast<std::int64_t>(request.after_seq()),
                               static_cast<int>(std::min<std::uint32_t>(request.limit(), 1000)));
      if (!page) return page.error();
      auto* result = ctx.response.mutable_sync_consultation();
      for (const auto& entry : page->entries) to_proto(entry, result->add_entries());
      result->set_has_more(page->has_more);
      return ok();
    }
    default:
      return make_error(Code::unimplemented, "this request is not served by this server yet");
  }
}

Status route(Context& ctx, const Frame& frame) {
  switch (frame.request_case()) {
    case Frame::kLogin:
      return handle_login(ctx, frame.login());
    case Frame::kResume:
      return handle_resume(ctx, frame.resume());
    case Frame::REQUEST_NOT_SET:
      return make_error(Code::unimplemented, "unknown or missing request type");
    default:
      break;
  }
  if (ctx.caller == nullptr) {
    return make_error(Code::unauthenticated, "log in or resume a session first");
  }
  switch (frame.request_case()) {
    case Frame::kLogout:
      return handle_logout(ctx);
    case Frame::kListOrganizations:
      return handle_list_organizations(ctx);
    case Frame::kListSpecialists:
      return handle_list_specialists(ctx, frame.list_specialists());
    case Frame::kOpenConsultation:
    case Frame::kGetConsultation:
    case Frame::kListConsultations:
    case Frame::kAcceptConsultation:
    case Frame::kDeclineConsultation:
    case Frame::kCancelConsultation:
    case Frame::kCloseConsultation:
    case Frame::kAssignConsultation:
    case Frame::kInviteParticipant:
    case Frame::kSubmitReport:
    case Frame::kPostMessage:
    case Frame::kAckMessages:
    case Frame::kSyncConsultation:
      return handle_consultation(ctx, frame);
    default:
      return make_error(Code::unimplemented, "this request is not served by this server yet");
  }
}

}  // namespace

v1::Response dispatch(Api& api, ApiConnection& connection, const v1::ClientFrame& frame) {
  v1::Response response;
  response.set_request_id(frame.request_id());
  const auto caller = connection.caller();
  Context ctx{api, connection, caller ? &*caller : nullptr, response};
  Status status = ok();
  try {
    status = route(ctx, frame);
  } catch (const std::exception& error) {
    spdlog::error("request {} (type {}) failed: {}", frame.request_id(),
                  static_cast<int>(frame.request_case()), error.what());
    status = make_error(Code::internal, "internal error");
  }
  if (!status) {
    set_error(response, status.error());
  } else {
    response.mutable_status()->set_code(v1::OK);
  }
  return response;
}

}  // namespace tmc::api

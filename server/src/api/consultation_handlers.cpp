// Consultation requests: lifecycle, messaging and reports.
#include <cstdint>

#include "api/handler_context.hpp"

namespace tmc::api {
namespace {

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

}  // namespace

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

}  // namespace tmc::api

// Maps each decoded request to the domain service that serves it and encodes the outcome.
#include "api/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "api/handler_context.hpp"
#include "domain/case_file_service.hpp"
#include "store/store.hpp"

namespace tmc::api {
namespace {

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

// Abuse limit: live signed-in connections per user.
Status check_session_count(const Context& ctx, const store::User& user) {
  const auto limit = ctx.api.options().max_sessions_per_user;
  if (limit != 0 && ctx.api.registry().sessions_of(user.id).size() >= limit) {
    return make_error(Code::resource_exhausted,
                      "too many live sessions for this user; close one first");
  }
  return ok();
}

// fresh: the session was created by this request (login), so a refusal revokes it again.
Status start_session(Context& ctx, Result<domain::LoginOutcome> outcome, bool fresh) {
  if (!outcome) return outcome.error();
  using Check = Status (*)(const Context&, const store::User&);
  const std::pair<Check, const char*> checks[] = {
      {check_certificate_binding, "login.certificate_mismatch"},
      {check_session_count, "login.session_limit"}};
  for (const auto& [check, action] : checks) {
    if (auto allowed = check(ctx, outcome->caller.user); !allowed) {
      ctx.api.services().auth->refuse_session(outcome->caller, action, fresh);
      return allowed;
    }
  }
  ctx.connection.set_caller(outcome->caller);
  fill_login(*outcome, ctx.response);
  ctx.api.session_started(ctx.connection, outcome->caller);
  return ok();
}

// A connection not signed in serves its login through dispatch_login; this serves direct
// callers of dispatch, on the calling worker.
Status handle_login(Context& ctx, const v1::LoginRequest& request) {
  if (ctx.caller != nullptr) {
    return make_error(Code::failed_precondition, "this connection is already signed in");
  }
  return start_session(ctx,
                       ctx.api.services().auth->login(request.username(), request.password(),
                                                      ctx.connection.peer().remote_address,
                                                      request.totp_code()),
                       true);
}

Status handle_resume(Context& ctx, const v1::ResumeRequest& request) {
  if (ctx.caller != nullptr) {
    return make_error(Code::failed_precondition, "this connection is already signed in");
  }
  return start_session(ctx,
                       ctx.api.services().auth->resume(request.session_token(),
                                                       ctx.connection.peer().remote_address),
                       false);
}

Status handle_logout(Context& ctx) {
  const domain::Caller caller = *ctx.caller;
  if (auto status = ctx.api.services().auth->logout(caller); !status) return status;
  ctx.connection.set_caller(std::nullopt);
  // Other connections that resumed the same token lose it too.
  for (auto& session : ctx.api.registry().sessions_of(caller.user.id)) {
    auto other = session->caller();
    if (other && other->session_token_hash == caller.session_token_hash) {
      session->end_session("logged out", v1::SESSION_CLOSING_KIND_REVOKED);
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
    case Frame::kBeginUpload:
    case Frame::kUploadChunk:
    case Frame::kFinishUpload:
    case Frame::kReadFile:
    case Frame::kShareCaseFile:
    case Frame::kListCaseFiles:
      return handle_case_file(ctx, frame);
    case Frame::kPublishAvailability:
    case Frame::kListSlots:
    case Frame::kBookReview:
    case Frame::kCancelAppointment:
    case Frame::kRescheduleAppointment:
    case Frame::kListAppointments:
      return handle_scheduling(ctx, frame);
    default:
      return make_error(Code::unimplemented, "this request is not served by this server yet");
  }
}

// Metrics label of a request: the name of its field in the request oneof.
const std::string& request_type_name(const Frame& frame) {
  static const std::string none = "none";
  const auto* field = Frame::descriptor()->FindFieldByNumber(frame.request_case());
  return field != nullptr ? field->name() : none;
}

// Counts the request and its transferred file bytes once the response is final.
void record_metrics(Api& api, const Frame& frame, const v1::Response& response,
                    std::chrono::steady_clock::time_point started, std::size_t uploaded_bytes) {
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  api.record_request(request_type_name(frame), v1::Code_Name(response.status().code()),
                     elapsed.count());
  if (response.status().code() != v1::OK) return;
  api.counters().upload_bytes += uploaded_bytes;
  if (response.has_file_chunk()) {
    api.counters().download_bytes += response.file_chunk().data().size();
  }
}

std::size_t uploaded_bytes(const Frame& frame) {
  return frame.has_upload_chunk() ? frame.upload_chunk().data().size() : 0;
}

// The answer to a request whose handler threw.
Status failure_status(const Frame& frame, std::exception_ptr failure) {
  try {
    std::rethrow_exception(std::move(failure));
  } catch (const store::UnstorableValue& error) {
    return make_error(Code::invalid_argument, error.what());
  } catch (const store::StoreError& error) {
    // The database is away (restart, failover, lost connection). A retry is safe: a message
    // is deduplicated by its client_msg_id, and a state change answers from the current state.
    spdlog::warn("request {} (type {}): store unavailable: {}", frame.request_id(),
                 static_cast<int>(frame.request_case()), error.what());
    return make_error(Code::unavailable, "storage unavailable; retry");
  } catch (const std::exception& error) {
    spdlog::error("request {} (type {}) failed: {}", frame.request_id(),
                  static_cast<int>(frame.request_case()), error.what());
  } catch (...) {
    spdlog::error("request {} (type {}) failed", frame.request_id(),
                  static_cast<int>(frame.request_case()));
  }
  return make_error(Code::internal, "internal error");
}

}  // namespace

bool pipelinable_inline(const v1::ClientFrame& frame) {
  return frame.has_post_message() &&
         frame.post_message().body().kind_case() != v1::MessageBody::kSignal;
}

bool pipelinable(const v1::ClientFrame& frame) {
  return pipelinable_inline(frame) || frame.has_upload_chunk();
}

namespace {

// The answer of a pipelined request (dispatch_pipelined builds it; it runs exactly once).
using Answer = std::function<void(Status, v1::Response)>;

// Seals the chunk here; the case file service answers once it is durable.
void start_upload_chunk(Api& api, const domain::Caller& caller, const Frame& frame,
                        const Frame& request_kind, const Answer& answer) {
  try {
    auto* service = api.services().case_files;
    if (service == nullptr) throw std::logic_error("upload chunk without a case file service");
    const auto& request = frame.upload_chunk();
    service->upload_chunk_async(caller, request.upload_id(), request.offset(), request.data(),
                                [answer](Result<std::uint64_t> committed) {
                                  if (!committed) return answer(committed.error(), {});
                                  v1::Response response;
                                  response.mutable_upload_chunk()->set_committed_offset(
                                      *committed);
                                  answer(ok(), std::move(response));
                                });
  } catch (...) {  // nothing was queued
    answer(failure_status(request_kind, std::current_exception()), {});
  }
}

// Queues the message and its cluster events in one op of the group commit; the store's writer
// answers after the commit, having delivered the events.
void start_post(Api& api, const domain::Caller& caller, const Frame& frame,
                const Frame& request_kind, const Answer& answer) {
  auto events = std::make_shared<std::vector<PublishedEvent>>();
  const auto& request = frame.post_message();
  try {
    api.services().consultations->post_message_async(
        caller, request.consultation_id(), request.client_msg_id(), from_proto(request.body()),
        [&api, events](store::Tx& tx, const std::vector<domain::Notification>& notes) {
          *events = api.encode_events(notes);
          api.journal_in(tx, *events);
        },
        [&api, events, answer, request_kind](std::exception_ptr failure,
                                             domain::ConsultationService::PostResult result) {
          if (failure) return answer(failure_status(request_kind, std::move(failure)), {});
          if (!*result) return answer(result->error(), {});
          v1::Response response;
          try {
            api.deliver(*events);
            auto* posted = response.mutable_post_message();
            posted->set_seq(static_cast<std::uint64_t>((*result)->value.seq));
            *posted->mutable_posted_at() = to_proto((*result)->value.posted_at);
          } catch (...) {  // stored, but its delivery failed: the sender's retry republishes it
            return answer(failure_status(request_kind, std::current_exception()), {});
          }
          answer(ok(), std::move(response));
        });
  } catch (...) {  // the store is closed: nothing was queued
    answer(failure_status(request_kind, std::current_exception()), {});
  }
}

}  // namespace

namespace {

// The answer of a request served outside dispatch (it runs exactly once, on any thread). The
// Api's count of such requests drops even if answering fails, so that Api::stop never waits for
// a request that is gone. request_kind: a frame of the request's kind and id, all the answer
// keeps of it (for metrics and failure logging).
Answer answer_later(Api& api, Frame request_kind, std::size_t chunk_bytes,
                    std::function<void(v1::Response)> respond) {
  const auto started = std::chrono::steady_clock::now();
  api.pipelined_started();
  return [&api, started, request_kind = std::move(request_kind), chunk_bytes,
          respond = std::move(respond)](Status status, v1::Response response) {
    if (!status) {
      response.Clear();
      set_error(response, status.error());
    } else {
      response.mutable_status()->set_code(v1::OK);
    }
    response.set_request_id(request_kind.request_id());
    try {
      record_metrics(api, request_kind, response, started, chunk_bytes);
      respond(std::move(response));
    } catch (const std::exception& error) {
      spdlog::error("request {}: answering failed: {}", request_kind.request_id(), error.what());
    }
    api.pipelined_finished();
  };
}

}  // namespace

void dispatch_pipelined(Api& api, const domain::Caller& caller, const v1::ClientFrame& frame,
                        std::function<void(v1::Response)> respond) {
  Frame request_kind;
  request_kind.set_request_id(frame.request_id());
  if (frame.has_upload_chunk()) {
    request_kind.mutable_upload_chunk();
  } else {
    request_kind.mutable_post_message();
  }
  const Answer answer = answer_later(api, request_kind, uploaded_bytes(frame), std::move(respond));
  if (frame.has_upload_chunk()) {
    start_upload_chunk(api, caller, frame, request_kind, answer);
  } else {
    start_post(api, caller, frame, request_kind, answer);
  }
}

void dispatch_login(Api& api, std::shared_ptr<ApiConnection> connection,
                    const v1::ClientFrame& frame, std::function<void(v1::Response)> respond) {
  Frame request_kind;
  request_kind.set_request_id(frame.request_id());
  request_kind.mutable_login();
  const Answer answer = answer_later(api, request_kind, 0, std::move(respond));
  const auto& request = frame.login();
  api.services().auth->login_async(
      request.username(), request.password(), connection->peer().remote_address,
      request.totp_code(),
      [&api](std::function<void()> work) { boost::asio::post(api.workers(), std::move(work)); },
      [&api, connection, request_kind, answer](
          std::exception_ptr failure, std::optional<Result<domain::LoginOutcome>> outcome) {
        v1::Response response;
        Status status = ok();
        try {
          if (failure) std::rethrow_exception(failure);
          Context ctx{api, *connection, nullptr, response};
          status = start_session(ctx, std::move(*outcome), true);
        } catch (...) {
          status = failure_status(request_kind, std::current_exception());
        }
        answer(std::move(status), std::move(response));
      });
}

v1::Response dispatch(Api& api, ApiConnection& connection, const v1::ClientFrame& frame) {
  const auto started = std::chrono::steady_clock::now();
  v1::Response response;
  response.set_request_id(frame.request_id());
  const auto caller = connection.caller();
  Context ctx{api, connection, caller ? &*caller : nullptr, response};
  Status status = ok();
  try {
    status = route(ctx, frame);
  } catch (...) {
    status = failure_status(frame, std::current_exception());
  }
  if (!status) {
    set_error(response, status.error());
  } else {
    response.mutable_status()->set_code(v1::OK);
  }
  record_metrics(api, frame, response, started, uploaded_bytes(frame));
  return response;
}

}  // namespace tmc::api

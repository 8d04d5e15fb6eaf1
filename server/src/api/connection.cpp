// Api state of one WebSocket connection: decoding, authentication state and ordered request lanes.
#include "api/connection.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "api/codec.hpp"
#include "api/dispatcher.hpp"
#include "api/frame_decoder.hpp"

namespace tmc::api {
namespace {

// File transfer requests travel on the bulk lane; everything else on the control lane.
Lane lane_of(const v1::ClientFrame& frame) {
  switch (frame.request_case()) {
    case v1::ClientFrame::kUploadChunk:
    case v1::ClientFrame::kReadFile:
      return Lane::bulk;
    default:
      return Lane::control;
  }
}

bool is_sign_in(const v1::ClientFrame& frame) { return frame.has_login() || frame.has_resume(); }

std::shared_ptr<const std::string> encode(const v1::ServerFrame& frame) {
  return std::make_shared<const std::string>(frame.SerializeAsString());
}

}  // namespace

ApiConnection::ApiConnection(Api& api, std::shared_ptr<Outbound> outbound, PeerInfo peer)
    : api_(api), outbound_(std::move(outbound)), peer_(std::move(peer)) {
  lanes_[static_cast<int>(Lane::control)].max_pipelined = kMaxPipelinedMessages;
  lanes_[static_cast<int>(Lane::bulk)].max_pipelined = kMaxPipelinedChunks;
  const auto& options = api_.options();
  if (options.requests_per_second > 0) {
    const auto now = std::chrono::steady_clock::now();
    const double tolerated = std::max(options.abuse_factor - 1, 1.0);
    request_rate_.emplace(options.requests_per_second, options.request_burst, now);
    refusal_rate_.emplace(options.requests_per_second * tolerated,
                          options.request_burst * tolerated, now);
  }
}

void ApiConnection::refuse(std::uint64_t request_id, Code code, const std::string& message) {
  v1::ServerFrame refusal;
  auto* response = refusal.mutable_response();
  response->set_request_id(request_id);
  set_error(*response, make_error(code, message));
  outbound_->send(encode(refusal), Lane::control);
}

bool ApiConnection::admit_request_locked(std::uint64_t request_id) {
  if (abusive_) return false;
  if (!request_rate_) return true;
  const auto now = std::chrono::steady_clock::now();
  if (request_rate_->try_take(now)) return true;
  if (refusal_rate_->try_take(now)) {
    refuse(request_id, Code::resource_exhausted, "request rate limit exceeded; slow down");
    return false;
  }
  abusive_ = true;
  spdlog::info("closing connection from {}: sustained request rate abuse", peer_.remote_address);
  outbound_->close(CloseCode::policy_violation, "request rate limit abuse");
  return false;
}

void ApiConnection::on_binary(std::string_view payload) {
  v1::ClientFrame frame;
  if (!decode_client_frame(payload, frame, api_.chunk_buffers())) {
    api_.counters().protocol_errors++;
    spdlog::info("closing connection from {}: undecodable frame", peer_.remote_address);
    outbound_->close(CloseCode::protocol_error, "undecodable frame");
    return;
  }
  const Lane lane = lane_of(frame);
  bool start = false;
  std::shared_ptr<const domain::Caller> pipelined_caller;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || !admit_request_locked(frame.request_id())) return;
    const std::uint64_t arrival = ++arrivals_;
    auto& state = lanes_[static_cast<int>(lane)];
    if (!state.running && state.queue.empty() && state.pipelined < state.max_pipelined &&
        sign_ins_pending_ == 0 && caller_ && pipelinable_inline(frame)) {
      // Nothing earlier waits: queued on the store from here, without a worker hand-off.
      pipelined_caller = caller_;
      ++state.pipelined;
    } else {
      if (state.queue.size() >= api_.options().max_queued_requests ||
          state.queue.bytes() + payload.size() > api_.options().max_queued_request_bytes) {
        refuse(frame.request_id(), Code::resource_exhausted,
               "too many requests in flight on this connection");
        return;
      }
      if (is_sign_in(frame)) ++sign_ins_pending_;
      state.queue.push_back({std::move(frame), payload.size(), arrival});
      if (!state.running && can_start_locked(state)) {
        state.running = true;
        start = true;
      }
    }
  }
  if (pipelined_caller) {
    start_pipelined(lane, *pipelined_caller, frame);
  } else if (start) {
    boost::asio::post(api_.workers(), [self = shared_from_this(), lane] { self->run_lane(lane); });
  }
}

bool ApiConnection::can_start_locked(const LaneState& state) const {
  if (state.queue.empty()) return false;
  if (sign_ins_pending_ > 0 && !is_sign_in(state.queue.front().frame)) {
    // Only what arrived after the sign-in waits for it: a request queued before it, in its own
    // lane, would otherwise hold up the sign-in behind it and the sign-in hold it up for ever.
    const auto sign_in = first_pending_sign_in_locked();
    if (sign_in && *sign_in < state.queue.front().arrival) return false;
  }
  if (state.pipelined == 0) return true;
  return state.pipelined < state.max_pipelined && caller_ &&
         pipelinable(state.queue.front().frame);
}

std::optional<std::uint64_t> ApiConnection::first_pending_sign_in_locked() const {
  if (serving_sign_in_) return serving_sign_in_;
  std::optional<std::uint64_t> first;
  for (const auto& state : lanes_) {
    for (std::size_t i = 0; i < state.queue.size(); ++i) {
      if (!is_sign_in(state.queue[i].frame)) continue;
      const auto arrival = state.queue[i].arrival;
      if (!first || arrival < *first) first = arrival;
      break;  // the lane's later ones arrived later
    }
  }
  return first;
}

void ApiConnection::run_lane(Lane lane) {
  auto& state = lanes_[static_cast<int>(lane)];
  for (;;) {
    v1::ClientFrame frame;
    std::shared_ptr<const domain::Caller> pipelined_caller;
    bool logging_in = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_ || !can_start_locked(state)) {
        state.running = false;  // the last pipelined answer starts the lane again
        if (closed_) state.queue.clear();
        return;
      }
      auto next = state.queue.pop_front();
      frame = std::move(next.frame);
      if (is_sign_in(frame)) serving_sign_in_ = next.arrival;
      if (caller_ && pipelinable(frame)) {
        pipelined_caller = caller_;
        ++state.pipelined;
      } else if (!caller_ && frame.has_login()) {
        logging_in = true;  // answered by finish_pipelined, which starts the lane again
        ++state.pipelined;
      }
    }
    if (logging_in) {
      api_.counters().requests++;
      dispatch_login(api_, shared_from_this(), frame,
                     [self = shared_from_this(), lane](v1::Response response) {
                       self->finish_pipelined(lane, std::move(response), true);
                     });
      continue;
    }
    if (pipelined_caller) {
      start_pipelined(lane, *pipelined_caller, frame);  // a chunk is sealed when it returns
      recycle_client_frame(frame, api_.chunk_buffers());
      continue;
    }
    api_.counters().requests++;
    const bool signs_in = is_sign_in(frame);
    v1::ServerFrame out;
    *out.mutable_response() = dispatch(api_, *this, frame);
    recycle_client_frame(frame, api_.chunk_buffers());
    outbound_->send(encode(out), lane);
    if (signs_in) sign_in_answered();
  }
}

void ApiConnection::sign_in_answered() {
  bool start[2] = {false, false};
  {
    std::lock_guard lock(mutex_);
    --sign_ins_pending_;
    serving_sign_in_.reset();
    start_lanes_locked(start);
  }
  for (int lane = 0; lane < 2; ++lane) {
    if (!start[lane]) continue;
    boost::asio::post(api_.workers(), [self = shared_from_this(), lane] {
      self->run_lane(static_cast<Lane>(lane));
    });
  }
}

void ApiConnection::start_lanes_locked(bool (&start)[2]) {
  for (int lane = 0; lane < 2; ++lane) {
    auto& state = lanes_[lane];
    if (!state.running && !closed_ && can_start_locked(state)) {
      state.running = true;
      start[lane] = true;
    }
  }
}

void ApiConnection::start_pipelined(Lane lane, const domain::Caller& caller,
                                    const v1::ClientFrame& frame) {
  api_.counters().requests++;
  dispatch_pipelined(api_, caller, frame, [self = shared_from_this(), lane](v1::Response response) {
    self->finish_pipelined(lane, std::move(response));
  });
}

void ApiConnection::finish_pipelined(Lane lane, v1::Response response, bool sign_in) {
  v1::ServerFrame out;
  *out.mutable_response() = std::move(response);
  outbound_->send(encode(out), lane);
  if (sign_in) {
    {
      std::lock_guard lock(mutex_);
      --lanes_[static_cast<int>(lane)].pipelined;
    }
    return sign_in_answered();
  }
  bool resume = false;
  {
    std::lock_guard lock(mutex_);
    auto& state = lanes_[static_cast<int>(lane)];
    --state.pipelined;
    if (!state.running && !closed_ && can_start_locked(state)) {
      state.running = true;
      resume = true;
    }
  }
  if (resume) {
    boost::asio::post(api_.workers(), [self = shared_from_this(), lane] { self->run_lane(lane); });
  }
}

void ApiConnection::on_closed() {
  std::shared_ptr<const domain::Caller> caller;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    caller = caller_;
  }
  closed_flag_->store(true);
  if (caller) api_.registry().remove(caller->user.id, this);
}

void ApiConnection::send_frame(std::shared_ptr<const std::string> frame, Lane lane) {
  outbound_->send(std::move(frame), lane);
}

void ApiConnection::end_session(const std::string& reason, v1::SessionClosingKind kind) {
  v1::ServerFrame frame;
  auto* closing = frame.mutable_event()->mutable_session_closing();
  closing->set_reason(reason);
  closing->set_kind(kind);
  outbound_->send(encode(frame), Lane::control);
  outbound_->close(CloseCode::policy_violation, reason);
}

std::shared_ptr<const domain::Caller> ApiConnection::caller() const {
  std::lock_guard lock(mutex_);
  return caller_;
}

void ApiConnection::set_caller(std::optional<domain::Caller> caller) {
  if (caller) caller->connection_closed = closed_flag_;
  auto next = caller ? std::make_shared<const domain::Caller>(*caller) : nullptr;
  std::shared_ptr<const domain::Caller> previous;
  bool closed = false;
  {
    std::lock_guard lock(mutex_);
    previous = std::exchange(caller_, std::move(next));
    closed = closed_;
  }
  if (previous) api_.registry().remove(previous->user.id, this);
  if (caller && !closed) {
    api_.registry().add(caller->user.id, caller->session_token_hash, shared_from_this());
    // on_closed may have run between the check above and the add, and found nothing to remove:
    // a closed connection must not stay counted as a live session of its token.
    {
      std::lock_guard lock(mutex_);
      closed = closed_;
    }
    if (closed) api_.registry().remove(caller->user.id, this);
  }
}

}  // namespace tmc::api

// The api layer's entry point: opens connections, owns the worker pool and the session registry.
#include "api/api.hpp"

#include <boost/asio/post.hpp>

#include <latch>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "api/codec.hpp"
#include "api/connection.hpp"
#include "common/thread_name.hpp"
#include "telemed/v1/frames.pb.h"

namespace tmc::api {

Api::Api(Services services, ApiOptions options)
    : services_(services), options_(options), workers_(options.worker_threads) {
  auto counter = [this](const char* name, const char* help, std::atomic<std::uint64_t>& value) {
    metrics_.callback(name, help, metrics::Type::counter, {}, [&value] {
      return std::vector<metrics::Sample>{{{}, static_cast<double>(value.load())}};
    });
  };
  counter("tmc_connections_opened_total", "WebSocket connections handed to the api layer.",
          counters_.connections_opened);
  counter("tmc_protocol_errors_total", "Connections closed for undecodable frames.",
          counters_.protocol_errors);
  counter("tmc_events_delivered_total", "Events queued to live sessions.",
          counters_.events_delivered);
  counter("tmc_upload_bytes_total", "Case file bytes accepted in upload chunks.",
          counters_.upload_bytes);
  counter("tmc_download_bytes_total", "Case file bytes sent in file chunks.",
          counters_.download_bytes);
  metrics_.callback("tmc_live_sessions", "Authenticated live sessions.", metrics::Type::gauge, {},
                    [this] {
                      return std::vector<metrics::Sample>{
                          {{}, static_cast<double>(registry_.size())}};
                    });
  requests_by_code_ = &metrics_.counter_family(
      "tmc_requests_total", "Requests answered, by request type and status code.",
      {"type", "code"});
  request_seconds_ = &metrics_.histogram_family(
      "tmc_request_duration_seconds", "Time from dispatch to response, by request type.",
      {"type"}, metrics::latency_buckets());
  // Each worker names itself: one task per thread, each holding its thread until all have run.
  // The tasks share the latch: a task may still be inside arrive_and_wait() when this returns.
  if (options.worker_threads > 0) {
    auto named = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(options.worker_threads));
    for (std::size_t i = 0; i < options.worker_threads; ++i) {
      boost::asio::post(workers_, [named] {
        name_this_thread("tmc-worker");
        named->arrive_and_wait();
      });
    }
    named->wait();
  }
}

void Api::record_request(const std::string& type, const std::string& code, double seconds) {
  requests_by_code_->with({type, code}).add();
  request_seconds_->with({type}).observe(seconds);
}

Api::~Api() { stop(); }

std::shared_ptr<Connection> Api::open(std::shared_ptr<Outbound> outbound, PeerInfo peer) {
  counters_.connections_opened++;
  return std::make_shared<ApiConnection>(*this, std::move(outbound), std::move(peer));
}

bool Api::ready() const { return ready_.load(); }

void Api::set_ready(bool ready) { ready_ = ready; }

std::string Api::metrics_text() const { return metrics_.expose(); }

namespace {

std::shared_ptr<const std::string> encode_event(const telemed::v1::Event& event) {
  telemed::v1::ServerFrame frame;
  *frame.mutable_event() = event;
  return std::make_shared<const std::string>(frame.SerializeAsString());
}

}  // namespace

void Api::deliver_frame(const std::vector<std::string>& user_ids,
                        const std::shared_ptr<const std::string>& frame) {
  auto sessions = registry_.sessions_of(user_ids);
  for (auto& session : sessions) session->send_frame(frame, Lane::control);
  counters_.events_delivered += sessions.size();
}

std::vector<PublishedEvent> Api::encode_events(
    const std::vector<domain::Notification>& notifications) const {
  std::vector<PublishedEvent> events;
  for (const auto& notification : notifications) {
    if (notification.recipients.empty()) continue;
    events.push_back({notification.recipients, encode_event(to_event(notification))});
  }
  return events;
}

void Api::journal_in(store::Tx& tx, const std::vector<PublishedEvent>& events) const {
  if (tx_journal_ && !events.empty()) tx_journal_(tx, events);
}

void Api::deliver(const std::vector<PublishedEvent>& events) {
  for (const auto& event : events) deliver_frame(event.recipients, event.frame);
}

void Api::publish(const std::vector<domain::Notification>& notifications) {
  const auto events = encode_events(notifications);
  deliver(events);
  if (journal_ && !events.empty()) journal_(events);
}

void Api::pipelined_started() {
  std::lock_guard lock(pipelined_mutex_);
  ++pipelined_;
}

void Api::pipelined_finished() {
  std::lock_guard lock(pipelined_mutex_);
  if (--pipelined_ == 0) pipelined_done_.notify_all();
}

void Api::session_started(ApiConnection& connection, const domain::Caller& caller) {
  for (const auto& hook : session_hooks_) hook(*this, connection, caller);
}

void Api::announce_shutdown() {
  telemed::v1::ServerFrame frame;
  auto* closing = frame.mutable_event()->mutable_session_closing();
  closing->set_reason("server shutting down");
  closing->set_kind(telemed::v1::SESSION_CLOSING_KIND_SERVER_SHUTDOWN);
  auto encoded = std::make_shared<const std::string>(frame.SerializeAsString());
  for (auto& session : registry_.all()) session->send_frame(encoded, Lane::control);
}

void Api::end_user_sessions(const std::string& user_id, const std::string& reason) {
  for (auto& session : registry_.sessions_of(user_id)) {
    session->end_session(reason, telemed::v1::SESSION_CLOSING_KIND_REVOKED);
  }
}

std::vector<std::string> Api::live_session_token_hashes() const {
  return registry_.token_hashes();
}

std::uint64_t Api::live_session_token_generation() const {
  return registry_.token_generation();
}

void Api::end_sessions(const std::vector<domain::EndedSession>& sessions) {
  std::unordered_map<std::string_view, bool> expired;
  for (const auto& ended : sessions) expired.emplace(ended.token_hash, ended.expired);
  for (auto& session : registry_.all()) {
    const auto caller = session->caller();
    if (!caller) continue;
    const auto found = expired.find(caller->session_token_hash);
    if (found == expired.end()) continue;
    if (found->second) {
      session->end_session("session expired", telemed::v1::SESSION_CLOSING_KIND_EXPIRED);
    } else {
      session->end_session("session revoked", telemed::v1::SESSION_CLOSING_KIND_REVOKED);
    }
  }
}

void Api::stop() {
  if (stopped_.exchange(true)) return;
  workers_.join();
  // Pipelined writes still queued on the store answer from its writer thread, through this
  // object: wait for them (the store outlives the Api, so they do complete).
  std::unique_lock lock(pipelined_mutex_);
  pipelined_done_.wait(lock, [this] { return pipelined_ == 0; });
}

}  // namespace tmc::api

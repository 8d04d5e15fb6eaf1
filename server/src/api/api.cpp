// The api layer's entry point: opens connections, owns the worker pool and the session registry.
#include "api/api.hpp"

#include <fmt/format.h>

#include "api/codec.hpp"
#include "api/connection.hpp"
#include "telemed/v1/frames.pb.h"

namespace tmc::api {

Api::Api(Services services, ApiOptions options)
    : services_(services), options_(options), workers_(options.worker_threads) {}

Api::~Api() { stop(); }

std::shared_ptr<Connection> Api::open(std::shared_ptr<Outbound> outbound, PeerInfo peer) {
  counters_.connections_opened++;
  return std::make_shared<ApiConnection>(*this, std::move(outbound), std::move(peer));
}

bool Api::ready() const { return ready_.load(); }

void Api::set_ready(bool ready) { ready_ = ready; }

std::string Api::metrics_text() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
  };
  counter("tmc_connections_opened_total", "WebSocket connections handed to the api layer.",
          counters_.connections_opened.load());
  counter("tmc_requests_total", "Requests answered.", counters_.requests.load());
  counter("tmc_protocol_errors_total", "Connections closed for undecodable frames.",
          counters_.protocol_errors.load());
  counter("tmc_events_delivered_total", "Events queued to live sessions.",
          counters_.events_delivered.load());
  out += fmt::format("# HELP tmc_live_sessions Authenticated live sessions.\n"
                     "# TYPE tmc_live_sessions gauge\ntmc_live_sessions {}\n",
                     registry_.size());
  return out;
}

void Api::notify(const std::vector<std::string>& user_ids, const telemed::v1::Event& event) {
  auto sessions = registry_.sessions_of(user_ids);
  if (sessions.empty()) return;
  telemed::v1::ServerFrame frame;
  *frame.mutable_event() = event;
  auto encoded = std::make_shared<const std::string>(frame.SerializeAsString());
  for (auto& session : sessions) session->send_frame(encoded, Lane::control);
  counters_.events_delivered += sessions.size();
}

void Api::publish(const std::vector<domain::Notification>& notifications) {
  for (const auto& notification : notifications) {
    if (notification.recipients.empty()) continue;
    notify(notification.recipients, to_event(notification));
  }
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
    session->end_session(CloseCode::policy_violation, reason);
  }
}

void Api::stop() {
  if (stopped_.exchange(true)) return;
  workers_.join();
}

}  // namespace tmc::api

// Api state of one WebSocket connection: decoding, authentication state and ordered request lanes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "api/request_queue.hpp"
#include "api/transport.hpp"
#include "common/result.hpp"
#include "domain/caller.hpp"
#include "domain/rate_limiter.hpp"
#include "telemed/v1/frames.pb.h"

namespace tmc::api {

class Api;

// Requests of one lane are served in arrival order on the worker pool (so a client's pipelined
// posts keep their order); the control lane and the bulk lane (file chunks) run independently
// so chat never waits behind a transfer. Within a lane, stored messages and upload chunks are
// pipelined: a message is queued on the store's group commit without waiting for the previous
// one to commit (up to kMaxPipelinedMessages at once), and a chunk is sealed while the previous
// one is being written (up to kMaxPipelinedChunks, which bounds the sealed bytes waiting for the
// disk); they are answered in order. Any other request starts only once every earlier one of
// its lane was answered, so it sees their effects. A login or resume holds back every lane's
// later requests until it is answered, so that requests pipelined behind a sign-in are served
// as the signed-in caller whatever their lane.
class ApiConnection final : public Connection,
                            public std::enable_shared_from_this<ApiConnection> {
 public:
  ApiConnection(Api& api, std::shared_ptr<Outbound> outbound, PeerInfo peer);

  void on_binary(std::string_view payload) override;
  void on_closed() override;

  // Queues an encoded ServerFrame. Thread-safe.
  void send_frame(std::shared_ptr<const std::string> frame, Lane lane);
  // Sends SessionClosing{reason, kind}, then closes the connection with 1008. Thread-safe.
  void end_session(const std::string& reason, telemed::v1::SessionClosingKind kind);

  // The signed-in caller, or null. Shared and never changed once set (set_caller replaces it),
  // so each request and the session sweep take a reference, not a copy of the user record.
  std::shared_ptr<const domain::Caller> caller() const;
  void set_caller(std::optional<domain::Caller> caller);
  const PeerInfo& peer() const { return peer_; }

 private:
  static constexpr std::size_t kMaxPipelinedMessages = 64;
  static constexpr std::size_t kMaxPipelinedChunks = 4;

  struct LaneState {
    RequestQueue queue;          // arrival: see arrivals_
    bool running = false;        // a worker is taking requests off the queue
    std::size_t pipelined = 0;   // pipelined requests not answered yet
    std::size_t max_pipelined = 0;
  };

  void run_lane(Lane lane);
  // Whether the lane's next request may start now. Called with mutex_ held.
  bool can_start_locked(const LaneState& state) const;
  // The arrival of the first login or resume not answered yet: the one being served, else the
  // earliest queued one; nullopt when there is none. Called with mutex_ held.
  std::optional<std::uint64_t> first_pending_sign_in_locked() const;
  // A pipelined request: counted, dispatched, answered by finish_pipelined.
  void start_pipelined(Lane lane, const domain::Caller& caller,
                       const telemed::v1::ClientFrame& frame);
  // sign_in: the request was a login (see sign_ins_pending_).
  void finish_pipelined(Lane lane, telemed::v1::Response response, bool sign_in = false);
  // A login or resume was answered: counts it off and starts the lanes that may run now.
  void sign_in_answered();
  void start_lanes_locked(bool (&start)[2]);
  // Per-session request rate: true to serve the request; otherwise it was answered (or the
  // connection closed for sustained abuse). Called with mutex_ held.
  bool admit_request_locked(std::uint64_t request_id);
  void refuse(std::uint64_t request_id, Code code, const std::string& message);

  Api& api_;
  std::shared_ptr<Outbound> outbound_;
  PeerInfo peer_;
  mutable std::mutex mutex_;
  std::shared_ptr<const domain::Caller> caller_;
  LaneState lanes_[2];
  // Logins and resumes received and not answered yet: while there are any, no lane starts a
  // request that arrived after one (see can_start_locked); those that arrived before do start.
  std::size_t sign_ins_pending_ = 0;
  std::uint64_t arrivals_ = 0;                   // requests admitted so far, in order
  std::optional<std::uint64_t> serving_sign_in_;  // its arrival, while a sign-in is served
  bool closed_ = false;
  // closed_ as the callers made here carry it (Caller::connection_closed), for the services.
  std::shared_ptr<std::atomic<bool>> closed_flag_ = std::make_shared<std::atomic<bool>>(false);
  std::optional<domain::TokenBucket> request_rate_;   // empty: unlimited
  std::optional<domain::TokenBucket> refusal_rate_;   // refusals tolerated before closing
  bool abusive_ = false;
};

}  // namespace tmc::api

// Blocking facade over Client for CLIs and tests: owns an io_context and its one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "telemed/v1/frames.pb.h"
#include "tmc/client/error.hpp"
#include "tmc/client/options.hpp"

namespace tmc::client {

// Thread-safe: every member may be called from any thread (calls from several threads run
// concurrently on the one connection), except that the destructor must not race other calls.
// Failures throw ClientError; a Response with a non-OK status is returned, not thrown.
class BlockingClient {
 public:
  using Duration = std::chrono::milliseconds;
  static constexpr Duration default_timeout = std::chrono::seconds(30);

  explicit BlockingClient(ClientOptions options);
  // Closes the connection (code 1000, bounded by connect_timeout) and joins the thread.
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  // Throws ClientError describing the failed step (see Client::connect).
  void connect();

  // Sends frame (its request_id is assigned) and waits for its Response. Throws ClientError:
  // errc::timed_out after timeout ("timed out after 30000 ms waiting for the response to
  // list_organizations"), errc::not_connected, errc::connection_closed.
  telemed::v1::Response call(telemed::v1::ClientFrame frame, Duration timeout = default_timeout);

  // Queues frame and returns at once; the future yields its Response or throws like call().
  // Frames started from one thread are written in the order started, so a caller can keep a
  // window of requests in flight and collect the answers in order.
  std::future<telemed::v1::Response> call_async(telemed::v1::ClientFrame frame,
                                                Duration timeout = default_timeout);

  // Queues every frame, in order, before awaiting any Response; returns the Responses in the
  // order of frames. The timeout applies to each call; the first failure is thrown.
  std::vector<telemed::v1::Response> call_pipelined(std::vector<telemed::v1::ClientFrame> frames,
                                                    Duration timeout = default_timeout);

  // Events queue up in arrival order from connect() on. next_event takes the oldest;
  // wait_event takes the oldest that matches and leaves the others queued. Both return
  // std::nullopt at the timeout, or as soon as the connection has ended and none is left.
  std::optional<telemed::v1::Event> next_event(Duration timeout);
  std::optional<telemed::v1::Event> wait_event(
      const std::function<bool(const telemed::v1::Event&)>& match, Duration timeout);
  // Removes and returns every queued event without waiting.
  std::vector<telemed::v1::Event> take_events();

  // Writes an arbitrary WebSocket message (binary, or text if text). For protocol tests.
  void send_raw(std::string bytes, bool text);

  // Waits until the connection has ended and returns the server's close code (1006 for a
  // dropped link); std::nullopt at the timeout.
  std::optional<CloseInfo> wait_closed(Duration timeout);

  bool is_open() const;

  // Sends a close frame and waits (bounded by connect_timeout) until the connection has ended.
  void close(std::uint16_t code = 1000);

  // Convenience requests; the Response is returned whatever its status.
  telemed::v1::Response login(const std::string& username, const std::string& password,
                              const std::string& totp_code = {},
                              Duration timeout = default_timeout);
  telemed::v1::Response resume(const std::string& session_token,
                               Duration timeout = default_timeout);

  const ClientOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tmc::client

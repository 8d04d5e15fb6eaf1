// The seam between the network layer and the api layer: no Beast, no protobuf.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tmc::api {

// Outbound queue lanes: control (responses, events, chat) always drains before bulk (file chunks).
enum class Lane { control, bulk };

// WebSocket close codes used by the protocol (PROTOCOL.md "Close codes").
enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  policy_violation = 1008,
  too_big = 1009,
  try_again_later = 1013,
};

// What the api layer may do with one live connection. Implemented by net; thread-safe: every
// method may be called from any thread and only posts work to the connection's strand.
class Outbound {
 public:
  virtual ~Outbound() = default;
  // Queues one encoded ServerFrame as a binary WebSocket message.
  virtual void send(std::shared_ptr<const std::string> frame, Lane lane) = 0;
  // Sends what is queued on the control lane, then closes with code. Idempotent.
  virtual void close(CloseCode code, std::string reason) = 0;
};

// Facts the network layer knows about the peer.
struct PeerInfo {
  std::string remote_address;             // "ip:port"
  std::string client_cert_organization;   // organisation bound to a verified client cert, if any
  std::string origin;                     // HTTP Origin header of the upgrade, if any
};

// Api state of one connection. Created by Handler::open; every on_* call comes from the
// connection's strand, one at a time.
class Connection {
 public:
  virtual ~Connection() = default;
  // One complete binary message.
  virtual void on_binary(std::string_view payload) = 0;
  // The connection is gone (closed by either side); no Outbound call after this has effect.
  virtual void on_closed() = 0;
};

// Entry point the network layer calls for every upgraded WebSocket connection.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual std::shared_ptr<Connection> open(std::shared_ptr<Outbound> outbound, PeerInfo peer) = 0;
  // Liveness/readiness facts for the HTTP endpoints.
  virtual bool ready() const = 0;
  // Prometheus text exposition for GET /metrics.
  virtual std::string metrics_text() const = 0;
};

}  // namespace tmc::api

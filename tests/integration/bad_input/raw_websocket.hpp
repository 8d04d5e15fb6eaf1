// A WebSocket client that frames bytes by hand (RFC 6455), so tests can send what no real client
// library would: unmasked, fragmented, reserved or oversized frames and undecodable payloads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "raw_tls_client.hpp"
#include "telemed/v1/frames.pb.h"

namespace tmc::testing {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  reserved_data = 0x3,
  close = 0x8,
  ping = 0x9,
  pong = 0xa,
};

// One frame as written on the wire.
struct FrameSpec {
  Opcode opcode = Opcode::binary;
  std::string payload;
  bool fin = true;
  bool masked = true;  // clients must mask; false breaks the protocol
  bool rsv1 = false;   // no extension is negotiated, so any reserved bit is a violation
};
std::string encode_frame(const FrameSpec& frame);

// A frame received from the server (servers never mask).
struct ReceivedFrame {
  Opcode opcode = Opcode::binary;
  std::string payload;
};

// What ended a wait: the server's Response, or the close code it sent (1006 when the
// connection ended without a close frame).
using Outcome = std::variant<telemed::v1::Response, std::uint16_t>;

class RawWebSocket {
 public:
  // Connects and upgrades to /v1/ws with subprotocol telemed.v1; throws when refused.
  explicit RawWebSocket(std::uint16_t port);

  void send(const FrameSpec& frame);
  // Sends the frame and returns false when the server had already ended the connection.
  bool try_send(const FrameSpec& frame);
  void send_binary(const std::string& payload) { send(FrameSpec{Opcode::binary, payload}); }

  // The next frame, or nothing when the connection has ended. Bounded by a watchdog.
  std::optional<ReceivedFrame> read_frame();
  // Reads (skipping events and pings, answering nothing) until a Response or the end.
  Outcome next_outcome();
  // Reads until the server closes; its close code (1006 without a close frame).
  std::uint16_t wait_close_code();

  RawTlsClient& tls() { return tls_; }

 private:
  RawTlsClient tls_;
};

}  // namespace tmc::testing

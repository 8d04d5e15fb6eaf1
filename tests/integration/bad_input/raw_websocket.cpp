// Hand-framed WebSocket client for hostile-input tests (see raw_websocket.hpp).
#include "raw_websocket.hpp"

#include <array>
#include <boost/system/system_error.hpp>
#include <stdexcept>

namespace tmc::testing {
namespace {

constexpr std::array<std::uint8_t, 4> mask_key{0x37, 0xfa, 0x21, 0x3d};

std::uint8_t byte_at(const std::string& bytes, std::size_t i) {
  return static_cast<std::uint8_t>(bytes[i]);
}

}  // namespace

std::string encode_frame(const FrameSpec& frame) {
  std::string out;
  out.push_back(static_cast<char>((frame.fin ? 0x80 : 0x00) | (frame.rsv1 ? 0x40 : 0x00) |
                                  static_cast<std::uint8_t>(frame.opcode)));
  const std::uint8_t mask_bit = frame.masked ? 0x80 : 0x00;
  const auto size = frame.payload.size();
  if (size < 126) {
    out.push_back(static_cast<char>(mask_bit | size));
  } else if (size <= 0xffff) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>((size >> 8) & 0xff));
    out.push_back(static_cast<char>(size & 0xff));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((static_cast<std::uint64_t>(size) >> shift) & 0xff));
    }
  }
  if (!frame.masked) return out + frame.payload;
  for (const auto key : mask_key) out.push_back(static_cast<char>(key));
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(static_cast<char>(byte_at(frame.payload, i) ^ mask_key[i % 4]));
  }
  return out;
}

RawWebSocket::RawWebSocket(std::uint16_t port) : tls_(port) {
  tls_.write(websocket_upgrade_headers() + "\r\n");
  const auto response = tls_.read_until("\r\n\r\n");
  if (response.rfind("HTTP/1.1 101", 0) != 0) {
    throw std::runtime_error("WebSocket upgrade refused: " + response);
  }
}

void RawWebSocket::send(const FrameSpec& frame) { tls_.write(encode_frame(frame)); }

bool RawWebSocket::try_send(const FrameSpec& frame) { return tls_.try_write(encode_frame(frame)); }

std::optional<ReceivedFrame> RawWebSocket::read_frame() {
  try {
    const auto header = tls_.read_exactly(2);
    ReceivedFrame frame;
    frame.opcode = static_cast<Opcode>(byte_at(header, 0) & 0x0f);
    std::uint64_t size = byte_at(header, 1) & 0x7f;
    if (size == 126 || size == 127) {
      const auto extended = tls_.read_exactly(size == 126 ? 2 : 8);
      size = 0;
      for (std::size_t i = 0; i < extended.size(); ++i) size = (size << 8) | byte_at(extended, i);
    }
    frame.payload = tls_.read_exactly(static_cast<std::size_t>(size));
    return frame;
  } catch (const boost::system::system_error&) {
    return std::nullopt;  // the connection ended (or the watchdog ended it)
  }
}

Outcome RawWebSocket::next_outcome() {
  for (;;) {
    const auto frame = read_frame();
    if (!frame) return std::uint16_t{1006};
    if (frame->opcode == Opcode::close) {
      if (frame->payload.size() < 2) return std::uint16_t{1005};
      return static_cast<std::uint16_t>((byte_at(frame->payload, 0) << 8) |
                                        byte_at(frame->payload, 1));
    }
    if (frame->opcode != Opcode::binary) continue;
    telemed::v1::ServerFrame decoded;
    if (!decoded.ParseFromString(frame->payload)) {
      throw std::runtime_error("the server sent an undecodable ServerFrame");
    }
    if (decoded.has_response()) return decoded.response();
  }
}

std::uint16_t RawWebSocket::wait_close_code() {
  for (;;) {
    const auto outcome = next_outcome();
    if (const auto* code = std::get_if<std::uint16_t>(&outcome)) return *code;
  }
}

}  // namespace tmc::testing

// WebSocket client framing (RFC 6455) over Asio's TLS stream, tuned for load generation.
#include "ws_connection.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace tmc::bench {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {
constexpr unsigned kContinuation = 0x0;
constexpr unsigned kBinary = 0x2;
constexpr unsigned kClose = 0x8;
constexpr unsigned kPing = 0x9;
constexpr std::size_t kReadChunk = 16 * 1024;  // one TLS record; grows for larger frames
// An arbitrary fixed key: the server only checks that it is well formed (see the upgrade).
constexpr std::string_view kWebSocketKey = "dGhlIHNhbXBsZSBub25jZQ==";
}  // namespace

struct WsConnection::State {
  State(asio::io_context& io, ssl::context& tls) : stream(io, tls) {}
  ssl::stream<tcp::socket> stream;
  Target target;
};

WsConnection::WsConnection(asio::io_context& io, ssl::context& tls)
    : state_(std::make_unique<State>(io, tls)),
      mask_state_(static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(this)) | 1u) {
  read_buffer_.resize(kReadChunk);
}

WsConnection::~WsConnection() = default;

void WsConnection::on_message(MessageHandler handler) { message_handler_ = std::move(handler); }
void WsConnection::on_status(StatusHandler handler) { status_handler_ = std::move(handler); }

bool WsConnection::resumed() const {
  return SSL_session_reused(const_cast<SSL*>(state_->stream.native_handle())) == 1;
}

SSL_SESSION* WsConnection::session() const {
  return SSL_get1_session(const_cast<SSL*>(state_->stream.native_handle()));
}

std::size_t WsConnection::queued_bytes() const { return pending_.size() + writing_.size(); }

void WsConnection::abort() {
  open_ = false;
  failed_ = true;
  boost::system::error_code ignored;
  state_->stream.lowest_layer().close(ignored);
}

void WsConnection::fail(const boost::system::error_code& ec, const char* where) {
  if (failed_) return;
  failed_ = true;
  open_ = false;
  boost::system::error_code ignored;
  state_->stream.lowest_layer().close(ignored);
  if (status_handler_) status_handler_(ec ? ec : asio::error::connection_aborted, where);
}

void WsConnection::start(const Target& target, const asio::ip::address& local,
                         SSL_SESSION* session) {
  state_->target = target;
  auto& socket = state_->stream.lowest_layer();
  boost::system::error_code ec;
  socket.open(target.endpoint.protocol(), ec);
  if (!ec) socket.set_option(tcp::no_delay(true), ec);
  if (!ec && receive_buffer_ > 0) {
    socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer_), ec);
  }
  if (!ec) socket.bind(tcp::endpoint(local, 0), ec);
  if (ec) {
    // Report asynchronously so callers see one code path.
    asio::post(state_->stream.get_executor(), [this, ec] { fail(ec, "bind"); });
    return;
  }
  SSL* ssl_handle = state_->stream.native_handle();
  SSL_set_tlsext_host_name(ssl_handle, target.host.c_str());
  SSL_set1_host(ssl_handle, target.host.c_str());
  if (session != nullptr) SSL_set_session(ssl_handle, session);

  socket.async_connect(target.endpoint, [this](const boost::system::error_code& ec) {
    if (ec) return fail(ec, "connect");
    state_->stream.async_handshake(
        ssl::stream_base::client, [this](const boost::system::error_code& ec) {
          if (ec) return fail(ec, "tls handshake");
          std::string request = "GET " + state_->target.path + " HTTP/1.1\r\nHost: " +
                                state_->target.host +
                                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                                std::string(kWebSocketKey) + "\r\n";
          if (!state_->target.subprotocol.empty()) {
            request += "Sec-WebSocket-Protocol: " + state_->target.subprotocol + "\r\n";
          }
          request += "\r\n";
          pending_.assign(request.begin(), request.end());
          std::swap(pending_, writing_);
          pending_.clear();
          asio::async_write(state_->stream, asio::buffer(writing_),
                            [this](const boost::system::error_code& ec, std::size_t) {
                              writing_.clear();
                              if (ec) return fail(ec, "upgrade request");
                              read_upgrade_response();
                            });
        });
  });
}

void WsConnection::read_upgrade_response() {
  state_->stream.async_read_some(
      asio::buffer(read_buffer_.data() + read_length_, read_buffer_.size() - read_length_),
      [this](const boost::system::error_code& ec, std::size_t n) {
        if (ec) return fail(ec, "upgrade response");
        read_length_ += n;
        const std::string_view text(reinterpret_cast<const char*>(read_buffer_.data()),
                                    read_length_);
        const auto end = text.find("\r\n\r\n");
        if (end == std::string_view::npos) {
          if (read_length_ == read_buffer_.size()) {
            return fail(asio::error::message_size, "upgrade response too long");
          }
          return read_upgrade_response();
        }
        if (text.rfind("HTTP/1.1 101", 0) != 0) {
          return fail(asio::error::connection_refused, "upgrade refused");
        }
        const std::size_t header_bytes = end + 4;
        std::memmove(read_buffer_.data(), read_buffer_.data() + header_bytes,
                     read_length_ - header_bytes);
        read_length_ -= header_bytes;
        open_ = true;
        if (status_handler_) status_handler_({}, "open");
        if (!failed_ && parse_frames()) read_frames();
        if (!failed_ && !pending_.empty()) flush();
      });
}

void WsConnection::read_frames() {
  if (reading_paused_ || read_in_flight_ || failed_) return;
  if (read_length_ == read_buffer_.size()) read_buffer_.resize(read_buffer_.size() * 2);
  read_in_flight_ = true;
  state_->stream.async_read_some(
      asio::buffer(read_buffer_.data() + read_length_, read_buffer_.size() - read_length_),
      [this](const boost::system::error_code& ec, std::size_t n) {
        read_in_flight_ = false;
        if (ec) return fail(ec, "read");
        read_length_ += n;
        bytes_received_ += n;
        if (parse_frames()) read_frames();
      });
}

std::uint16_t WsConnection::local_port() const {
  boost::system::error_code ec;
  const auto endpoint = state_->stream.lowest_layer().local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void WsConnection::pause_reading() { reading_paused_ = true; }

void WsConnection::resume_reading() {
  reading_paused_ = false;
  if (open_) read_frames();
}

// Handles every complete frame in the read buffer; false once the connection has failed.
bool WsConnection::parse_frames() {
  std::size_t pos = 0;
  while (!failed_) {
    const std::size_t available = read_length_ - pos;
    if (available < 2) break;
    const std::uint8_t* p = read_buffer_.data() + pos;
    const bool fin = (p[0] & 0x80) != 0;
    const unsigned opcode = p[0] & 0x0f;
    if ((p[1] & 0x80) != 0) {
      fail(asio::error::invalid_argument, "masked frame from the server");
      return false;
    }
    std::size_t header = 2;
    std::uint64_t length = p[1] & 0x7f;
    if (length == 126) {
      header = 4;
      if (available < header) break;
      length = (std::uint64_t{p[2]} << 8) | p[3];
    } else if (length == 127) {
      header = 10;
      if (available < header) break;
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
    }
    if (length > (std::uint64_t{1} << 30)) {
      fail(asio::error::message_size, "frame too large");
      return false;
    }
    const auto frame_bytes = header + static_cast<std::size_t>(length);
    if (available < frame_bytes) {
      if (frame_bytes > read_buffer_.size()) {
        // Grow once for a large frame; kept for the rest of the run.
        std::memmove(read_buffer_.data(), p, available);
        read_length_ = available;
        read_buffer_.resize(std::max(frame_bytes, read_buffer_.size() * 2));
        return true;
      }
      break;
    }
    handle_frame(fin, opcode, {p + header, static_cast<std::size_t>(length)});
    pos += frame_bytes;
  }
  if (failed_) return false;
  if (pos > 0) {
    std::memmove(read_buffer_.data(), read_buffer_.data() + pos, read_length_ - pos);
    read_length_ -= pos;
  }
  return true;
}

void WsConnection::handle_frame(bool fin, unsigned opcode, std::span<const std::uint8_t> payload) {
  if (opcode == kPing) return send_control(0xA, payload);
  if (opcode == kClose) {
    close_code_ = payload.size() >= 2 ? (unsigned{payload[0]} << 8) | payload[1] : 1005;
    send_control(kClose, payload.first(std::min<std::size_t>(payload.size(), 2)));
    return fail(asio::error::eof, "closed by the server");
  }
  if (opcode >= 0x8) return;  // pong
  if (opcode != kContinuation && !fragments_.empty()) {
    return fail(asio::error::invalid_argument, "new message inside a fragmented one");
  }
  if (fin && fragments_.empty()) {
    if (message_handler_) message_handler_(payload);
    return;
  }
  fragments_.insert(fragments_.end(), payload.begin(), payload.end());
  if (fin) {
    if (message_handler_) message_handler_(fragments_);
    fragments_.clear();
  }
}

void WsConnection::append_header(unsigned opcode, std::size_t length, std::uint8_t mask[4]) {
  std::uint8_t header[14];
  std::size_t n = 0;
  header[n++] = static_cast<std::uint8_t>(0x80 | opcode);
  if (length < 126) {
    header[n++] = static_cast<std::uint8_t>(0x80 | length);
  } else if (length <= 0xffff) {
    header[n++] = 0x80 | 126;
    header[n++] = static_cast<std::uint8_t>(length >> 8);
    header[n++] = static_cast<std::uint8_t>(length);
  } else {
    header[n++] = 0x80 | 127;
    for (int shift = 56; shift >= 0; shift -= 8) {
      header[n++] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(length) >> shift);
    }
  }
  // xorshift32: masks need not be cryptographic for a load generator talking to itself.
  mask_state_ ^= mask_state_ << 13;
  mask_state_ ^= mask_state_ >> 17;
  mask_state_ ^= mask_state_ << 5;
  std::memcpy(mask, &mask_state_, 4);
  std::memcpy(header + n, mask, 4);
  n += 4;
  pending_.insert(pending_.end(), header, header + n);
}

void WsConnection::append_masked(std::span<const std::uint8_t> bytes, const std::uint8_t mask[4],
                                 std::size_t& mask_index) {
  const std::size_t start = pending_.size();
  pending_.resize(start + bytes.size());
  std::uint8_t* out = pending_.data() + start;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(bytes[i] ^ mask[(mask_index + i) & 3]);
  }
  mask_index += bytes.size();
}

void WsConnection::send_binary(std::span<const std::uint8_t> payload) {
  send_binary(payload, {});
}

void WsConnection::send_binary(std::span<const std::uint8_t> head,
                               std::span<const std::uint8_t> tail) {
  if (failed_) return;
  std::uint8_t mask[4];
  append_header(kBinary, head.size() + tail.size(), mask);
  std::size_t mask_index = 0;
  append_masked(head, mask, mask_index);
  append_masked(tail, mask, mask_index);
  if (open_ && !write_in_flight_) flush();
}

void WsConnection::send_control(unsigned opcode, std::span<const std::uint8_t> payload) {
  if (failed_) return;
  std::uint8_t mask[4];
  append_header(opcode, payload.size(), mask);
  std::size_t mask_index = 0;
  append_masked(payload, mask, mask_index);
  if (open_ && !write_in_flight_) flush();
}

void WsConnection::flush() {
  if (pending_.empty() || write_in_flight_ || failed_) return;
  std::swap(pending_, writing_);
  pending_.clear();
  write_in_flight_ = true;
  asio::async_write(state_->stream, asio::buffer(writing_),
                    [this](const boost::system::error_code& ec, std::size_t) {
                      write_in_flight_ = false;
                      writing_.clear();
                      if (ec) return fail(ec, "write");
                      flush();
                    });
}

}  // namespace tmc::bench

// One client WebSocket-over-TLS connection built for load generation: masked frames written from
// one reusable buffer (several queued frames go out in one write, hence one TLS record), frames
// read in place from one reusable buffer, pings answered. No allocation per message once warm.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

namespace boost::asio::ssl {
class context;
}

namespace tmc::bench {

// Where to connect and what to ask for in the upgrade request.
struct Target {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string host = "localhost";  // SNI and Host header
  std::string path = "/";
  std::string subprotocol;          // empty: none requested
};

// All callbacks run on the io_context's (single) thread. The object must outlive every
// operation it started: keep it until the io_context has stopped running.
class WsConnection {
 public:
  // A whole binary message (fragments are reassembled); valid only during the call.
  using MessageHandler = std::function<void(std::span<const std::uint8_t>)>;
  // Connection established (ec empty) or failed / closed later (ec set, text says where).
  using StatusHandler = std::function<void(const boost::system::error_code&, const char* where)>;

  WsConnection(boost::asio::io_context& io, boost::asio::ssl::context& tls);
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  void on_message(MessageHandler handler);
  // Called once after start (ready or failed), then at most once more if the connection fails.
  void on_status(StatusHandler handler);

  // TCP connect from `local` (any port), TLS handshake (offering `session` for resumption when
  // not null), WebSocket upgrade.
  void start(const Target& target, const boost::asio::ip::address& local, SSL_SESSION* session);

  // Queues one masked binary frame. Cheap: copies and masks into the outbound buffer.
  void send_binary(std::span<const std::uint8_t> payload);
  // Queues a binary frame made of two parts (header bytes and a large payload).
  void send_binary(std::span<const std::uint8_t> head, std::span<const std::uint8_t> tail);

  // Bytes queued but not yet handed to TLS (for flow control by the caller).
  std::size_t queued_bytes() const;
  bool open() const { return open_; }
  // Whether the TLS handshake resumed a session.
  bool resumed() const;
  // The TLS session for later resumption (caller frees with SSL_SESSION_free); may be null.
  SSL_SESSION* session() const;
  // Closes the TCP connection without a closing handshake.
  void abort();

 private:
  struct State;
  void read_upgrade_response();
  void read_frames();
  bool parse_frames();
  void handle_frame(bool fin, unsigned opcode, std::span<const std::uint8_t> payload);
  void append_header(unsigned opcode, std::size_t length, std::uint8_t mask[4]);
  void append_masked(std::span<const std::uint8_t> bytes, const std::uint8_t mask[4],
                     std::size_t& mask_index);
  void send_control(unsigned opcode, std::span<const std::uint8_t> payload);
  void flush();
  void fail(const boost::system::error_code& ec, const char* where);

  std::unique_ptr<State> state_;
  MessageHandler message_handler_;
  StatusHandler status_handler_;
  std::vector<std::uint8_t> pending_;   // frames waiting for the write in flight
  std::vector<std::uint8_t> writing_;   // frames of the write in flight
  std::vector<std::uint8_t> read_buffer_;
  std::size_t read_length_ = 0;
  std::vector<std::uint8_t> fragments_;  // a fragmented message being reassembled
  std::uint32_t mask_state_;
  bool write_in_flight_ = false;
  bool open_ = false;
  bool failed_ = false;
};

}  // namespace tmc::bench

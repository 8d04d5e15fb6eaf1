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

  // Stops reading the socket (a stalled client: what the server sends piles up in the kernel's
  // buffers, then in the server's outbound queue); a read already in flight still completes.
  void pause_reading();
  void resume_reading();
  // SO_RCVBUF for the next start() (0: the kernel's autotuned default). A small buffer makes a
  // stalled client's backlog reach the server's queue sooner.
  void set_receive_buffer(int bytes) { receive_buffer_ = bytes; }
  // The TCP port this end is bound to (0 before start).
  std::uint16_t local_port() const;
  // The code of the close frame the server sent (0: none seen).
  unsigned close_code() const { return close_code_; }
  // Bytes read from the TLS stream since start (WebSocket framing included).
  std::uint64_t bytes_received() const { return bytes_received_; }

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
  bool read_in_flight_ = false;
  bool reading_paused_ = false;
  int receive_buffer_ = 0;
  unsigned close_code_ = 0;
  std::uint64_t bytes_received_ = 0;
  bool open_ = false;
  bool failed_ = false;
};

}  // namespace tmc::bench

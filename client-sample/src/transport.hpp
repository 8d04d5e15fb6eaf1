// The client's WebSocket-over-TLS link; its .cpp is the only one that instantiates Beast.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tmc/client/options.hpp"

namespace tmc::client::detail {

// One complete WebSocket message, or the error that ended reading.
struct Incoming {
  boost::system::error_code error;
  std::string payload;
  bool text = false;
};

// Thin non-template facade over websocket::stream<ssl_stream<tcp_stream>>. Like the stream,
// it allows one read and one write (or close) in flight; callers serialise on one executor.
class Transport {
 public:
  Transport(boost::asio::any_io_executor executor, const ClientOptions& options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // TCP, TLS and WebSocket handshakes. Throws ClientError naming the failed step.
  boost::asio::awaitable<void> connect();

  // Next complete message; Incoming::error is websocket::error::closed after a close frame.
  boost::asio::awaitable<Incoming> read();

  boost::asio::awaitable<boost::system::error_code> write(std::string_view payload, bool text);

  // Sends a close frame; the read loop then sees the peer's answer and ends.
  boost::asio::awaitable<boost::system::error_code> close(std::uint16_t code);

  // The code and reason of the peer's close frame, once one was received.
  std::optional<CloseInfo> peer_close() const;

  // Drops the TCP connection at once: outstanding operations complete with an error.
  void abort() noexcept;

 private:
  struct State;
  boost::asio::any_io_executor executor_;
  ClientOptions options_;
  std::unique_ptr<State> state_;  // built by connect(): a bad CA file is a connect failure
};

}  // namespace tmc::client::detail

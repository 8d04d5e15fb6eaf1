// Asynchronous telemed.v1 client: one WebSocket-over-TLS connection driven by C++20 coroutines.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "telemed/v1/frames.pb.h"
#include "tmc/client/error.hpp"
#include "tmc/client/options.hpp"

namespace tmc::client {

// One connection to the server. Threading: every member function must be called from the
// client's executor, which must not run handlers concurrently (a strand or a single-threaded
// io_context); handlers are invoked there too. The connection's coroutines keep its state alive,
// so destroying the Client while calls are pending is safe: it aborts the connection and the
// pending calls fail.
class Client {
 public:
  Client(boost::asio::any_io_executor executor, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Resolves, connects TCP, performs the TLS handshake (server certificate verified against
  // options.ca_file, SNI, host name check; optional client certificate) and the WebSocket
  // upgrade to wss://host:port/v1/ws with options.subprotocol, all within connect_timeout from
  // the call (resolving counts against it, though only BlockingClient interrupts a resolver that
  // never answers).
  // Throws ClientError: a readable line naming the step that failed, including a refused upgrade
  // (errc::upgrade_refused) or subprotocol (errc::subprotocol_refused).
  boost::asio::awaitable<void> connect();

  // Assigns the next request_id (overwriting frame's), queues the frame and resumes when the
  // Response with that id arrives. Calls may overlap (pipelining). A Response with a non-OK
  // status is returned as is. Throws ClientError: errc::not_connected before connect() or after
  // the end of the connection, errc::connection_closed if it ends first, errc::cancelled if the
  // awaiting coroutine is cancelled (a late Response is then dropped).
  boost::asio::awaitable<telemed::v1::Response> call(telemed::v1::ClientFrame frame);

  // Handlers for server-pushed events and for the end of the connection (called once, with the
  // server's close code, or 1006 when the link dropped). Set them before connect().
  void on_event(std::function<void(const telemed::v1::Event&)> handler);
  void on_close(std::function<void(const CloseInfo&)> handler);

  // Queues an arbitrary WebSocket message (binary, or text if text) behind the frames already
  // queued and resumes once it is written. For protocol tests. Throws like call().
  boost::asio::awaitable<void> send_raw(std::string bytes, bool text);

  // Sends a close frame after the queued frames and resumes when the connection has ended.
  // Does nothing if it has already ended.
  boost::asio::awaitable<void> close(std::uint16_t code = 1000);

  bool is_open() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tmc::client

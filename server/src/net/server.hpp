// The TLS/WebSocket server: options and the Server that accepts connections for an api::Handler.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "api/transport.hpp"

namespace tmc::net {

struct TlsOptions {
  std::string certificate_chain_file;  // PEM, leaf first
  std::string private_key_file;        // PEM, unencrypted
  // PEM bundle of CAs that issue client certificates; empty: no client certificate is requested.
  // A verified client certificate binds the connection to the tmc organisation id held in the
  // certificate subject's organizationName (O) field (PeerInfo::client_cert_organization).
  std::string client_ca_file;
  bool require_client_certificate = false;  // only meaningful with client_ca_file
};

struct ServerOptions {
  std::string listen_address = "0.0.0.0";
  std::uint16_t listen_port = 8443;  // 0: the kernel picks a free port (see Server::start)
  TlsOptions tls;
  std::size_t max_frame_bytes = 4 * 1024 * 1024;  // larger WebSocket messages close with 1009
  // From TCP accept until the WebSocket upgrade (or HTTP request) is complete.
  std::chrono::milliseconds handshake_timeout{10000};
  // WebSocket idle limit: a ping after half of it, the connection is dropped after all of it.
  std::chrono::milliseconds idle_timeout{60000};
  // Per-session outbound bytes queued but not yet written; going over it closes with 1013.
  std::size_t outbound_queue_limit_bytes = 8 * 1024 * 1024;
  // Origins accepted on the upgrade request (exact, ASCII case-insensitive); empty: not checked.
  // A request without an Origin header (a non-browser client) is always accepted.
  std::vector<std::string> allowed_origins;
  // How long a close handshake we started may take before the socket is simply dropped.
  std::chrono::milliseconds close_timeout{5000};
  // Per client IP address: live connections, and new connections per second (token bucket with
  // a burst of twice the rate). Connections beyond either are closed right after accept.
  // 0: unlimited.
  std::size_t max_connections_per_address = 256;
  double new_connections_per_second_per_address = 50;
  // The io_context is run by one thread only. Each session then runs on the io_context's own
  // executor instead of a strand of its own: one thread already runs its handlers one at a
  // time, and a strand costs a reference count and a type-erased copy in every operation
  // (about 2% of a chat message's CPU). Never set it with more than one thread in io.run().
  bool single_io_thread = false;
};

// Why a connection ended before it became a WebSocket session or answered an HTTP request.
enum class HandshakeFailure { tls, timeout, http, websocket };
inline constexpr std::array<const char*, 4> handshake_failure_names{"tls", "timeout", "http",
                                                                    "websocket"};

// Connection-level counters for metrics; updated by sessions on any thread.
struct NetCounters {
  std::atomic<std::uint64_t> tls_handshakes{0};  // TLS handshakes that succeeded
  std::array<std::atomic<std::uint64_t>, handshake_failure_names.size()> handshake_failures{};
  std::atomic<std::uint64_t> slow_consumer_closes{0};  // sessions closed 1013 (queue over limit)
  std::atomic<std::int64_t> outbound_queue_bytes{0};   // bytes queued over all sessions

  void failed(HandshakeFailure reason) { handshake_failures[static_cast<int>(reason)]++; }
};

// Accepts TLS connections on one port. Plain HTTP(S) requests are answered and closed
// (Connection: close): GET /healthz, /readyz, /metrics. A WebSocket upgrade on /v1/ws with the
// "telemed.v1" subprotocol becomes a session handed to handler->open(); every session runs on
// its own strand of the io_context, which may be run by any number of threads (or on the
// io_context's executor itself when one thread runs it: ServerOptions::single_io_thread).
class Server {
 public:
  // Loads the certificate, key and client CA. Throws std::runtime_error with a one-line reason
  // on an unreadable or mismatched certificate/key or an invalid listen address.
  Server(boost::asio::io_context& io, ServerOptions options, std::shared_ptr<api::Handler> handler);
  // Closes the acceptor; live sessions are not waited for (call stop() first for that).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts accepting; returns the bound port. Throws std::runtime_error when
  // the address cannot be bound. Call once.
  std::uint16_t start();

  // Stops accepting and closes every live session with 1001 "server shutting down" (the api
  // layer has already queued its SessionClosing event; queued control frames are flushed
  // first). done is called once, on an io thread, when the last session has ended or after a
  // grace period of close_timeout plus one second. Thread-safe; a later call only adds its done
  // (called at once if the stop has already completed).
  void stop(std::function<void()> done);

  // Connections accepted and not yet ended (including ones still in TLS/HTTP). Thread-safe.
  std::size_t live_sessions() const;

  // Connection counters since construction. Thread-safe.
  const NetCounters& counters() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tmc::net

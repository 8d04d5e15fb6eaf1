// One accepted connection: TLS handshake, one HTTP request, then maybe a WebSocket session.
#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "api/transport.hpp"
#include "net/server.hpp"
#include "net/session_registry.hpp"

namespace tmc::net {

// Shared by the listener and every session; kept alive by the sessions that use it.
struct SessionContext {
  SessionContext(ServerOptions server_options, boost::asio::ssl::context tls_context,
                 std::shared_ptr<api::Handler> api_handler)
      : options(std::move(server_options)),
        tls(std::move(tls_context)),
        handler(std::move(api_handler)) {}

  const ServerOptions options;
  boost::asio::ssl::context tls;
  const std::shared_ptr<api::Handler> handler;
  SessionRegistry registry;
  NetCounters counters;
};

// Runs the connection to its end on the socket's executor, which must be a strand of its own.
// Registers with context->registry (or closes at once when the server is stopping).
// admission is held until the session ends (e.g. the per-address connection slot).
void start_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<SessionContext> context,
                   std::shared_ptr<void> admission = {});

}  // namespace tmc::net

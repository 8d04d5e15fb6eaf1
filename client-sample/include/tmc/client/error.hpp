// Error codes of the client library and the exception it throws for connection-level failures.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace tmc::client {

// Failures that originate in the client rather than in the operating system, TLS or Beast.
enum class errc {
  not_connected = 1,    // the call was made before connect() or after the connection ended
  already_connected,    // connect() on a client that is connecting or connected
  connection_closed,    // the connection ended while the call waited for its Response
  upgrade_refused,      // the server answered the WebSocket upgrade with an HTTP error
  subprotocol_refused,  // the server upgraded without agreeing to the requested subprotocol
  timed_out,            // a blocking wait reached its deadline
  cancelled,            // the awaiting coroutine was cancelled
  server_unavailable,   // the server answered UNAVAILABLE to what a new connection needs first
};

const std::error_category& client_category() noexcept;
std::error_code make_error_code(errc value) noexcept;

// What the client throws. code() says what kind of failure it is (an errc, an OS/asio error,
// an OpenSSL error); what() is one readable line such as
// "TLS handshake with localhost:8443 failed: certificate verify failed".
class ClientError : public std::system_error {
 public:
  ClientError(std::error_code code, std::string message);
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace tmc::client

template <>
struct std::is_error_code_enum<tmc::client::errc> : std::true_type {};

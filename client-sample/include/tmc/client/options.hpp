// Connection settings of the telemed.v1 client and the close information it reports.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tmc::client {

// How to reach and authenticate the server. Certificate verification is always on.
struct ClientOptions {
  std::string host = "localhost";
  std::string port = "8443";
  std::string ca_file;                  // PEM trust anchor; empty: the system's default trust store
  std::string client_certificate_file;  // optional mutual TLS (PEM chain)
  std::string client_private_key_file;  // optional mutual TLS (PEM key)
  std::string subprotocol = "telemed.v1";  // tests override it to check the server's refusal
  std::size_t max_frame_bytes = 64 * 1024 * 1024;    // larger incoming messages close the link
  std::chrono::milliseconds connect_timeout{10000};  // resolve + TCP + TLS + upgrade, and close
  // A link that brings nothing for this long (not even the pong to the ping sent at half of it)
  // is dropped and reported closed (1006), so that a link that died silently (a NAT timeout, a
  // radio drop) is noticed and the caller can reconnect; zero: never.
  std::chrono::milliseconds idle_timeout{30000};
  int min_tls_version = 0;  // 0: TLS 1.2; else an OpenSSL constant such as TLS1_3_VERSION
  int max_tls_version = 0;  // 0: the newest OpenSSL supports
};

// Why a connection ended: the code (and reason) of the server's close frame, or 1006 with a
// description when the connection dropped without a closing handshake.
struct CloseInfo {
  std::uint16_t code = 0;
  std::string reason;
};

// Close code reported when the link ended without a close frame (RFC 6455 "abnormal closure").
inline constexpr std::uint16_t abnormal_closure = 1006;

}  // namespace tmc::client

// Hand-driven TLS clients for hostile-input tests: they send exactly what a test says.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace tmc::testing {

// Shuts a socket down if a blocking call outlives its limit, so a server that never answers or
// never closes fails the test instead of hanging it.
class Watchdog {
 public:
  Watchdog(int fd, std::chrono::milliseconds limit);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  bool fired();

 private:
  std::mutex mutex_;
  std::condition_variable disarmed_changed_;
  bool disarmed_ = false;
  bool fired_ = false;
  std::thread thread_;
};

// What the client offers in its TLS handshake. Zero versions and empty lists mean OpenSSL's
// defaults; anything else lowers the client's security level so it may offer weak choices.
struct TlsOffer {
  int min_version = 0;        // e.g. TLS1_VERSION
  int max_version = 0;        // e.g. TLS1_1_VERSION
  std::string tls12_ciphers;  // OpenSSL cipher list for TLS 1.2 and older
};

// True when a TLS handshake offering only offer completes against 127.0.0.1:port. Throws
// std::invalid_argument when this OpenSSL build cannot offer it at all.
bool tls_handshake_succeeds(std::uint16_t port, const TlsOffer& offer);

// A TLS connection to 127.0.0.1:port (certificate not verified) that writes what the test
// says and nothing else: no pongs, no close handshake. Throws boost::system::system_error when
// the connection or the handshake fails. Reads are bounded by a watchdog.
class RawTlsClient {
 public:
  explicit RawTlsClient(std::uint16_t port, const TlsOffer& offer = {});
  ~RawTlsClient();
  RawTlsClient(const RawTlsClient&) = delete;
  RawTlsClient& operator=(const RawTlsClient&) = delete;

  int fd() const;
  void write(const std::string& bytes);
  // Returns false (instead of throwing) when the server has ended the connection.
  bool try_write(const std::string& bytes);
  // Reads until delimiter (included) and returns everything read so far; throws on EOF.
  std::string read_until(const std::string& delimiter,
                         std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Exactly size bytes (after anything read_until buffered); throws on EOF or at the limit.
  std::string read_exactly(std::size_t size,
                           std::chrono::milliseconds limit = std::chrono::seconds(10));
  // True when the server has sent something or ended the connection within limit; the
  // connection stays untouched otherwise.
  bool wait_readable(std::chrono::milliseconds limit);
  // Reads and discards whatever arrives (answering nothing) until the server ends the
  // connection; false when the watchdog had to end it after limit.
  bool wait_closed(std::chrono::milliseconds limit);
  // True once a read was ended by its watchdog rather than by the server.
  bool timed_out() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The opening bytes of a WebSocket upgrade to /v1/ws offering telemed.v1, without the
// blank line that ends the header block.
std::string websocket_upgrade_headers();

}  // namespace tmc::testing

// Hand-driven TLS clients for hostile-input tests (see raw_tls_client.hpp).
#include "raw_tls_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

namespace tmc::testing {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

Watchdog::Watchdog(int fd, std::chrono::milliseconds limit)
    : thread_([this, fd, limit] {
        std::unique_lock lock(mutex_);
        if (!disarmed_changed_.wait_for(lock, limit, [&] { return disarmed_; })) {
          fired_ = true;
          ::shutdown(fd, SHUT_RDWR);
        }
      }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    disarmed_ = true;
  }
  disarmed_changed_.notify_all();
  thread_.join();
}

bool Watchdog::fired() {
  std::lock_guard lock(mutex_);
  return fired_;
}

namespace {

ssl::context client_context(const TlsOffer& offer) {
  ssl::context context{ssl::context::tls_client};
  context.set_verify_mode(ssl::verify_none);
  SSL_CTX* native = context.native_handle();
  if (offer.min_version != 0 || offer.max_version != 0 || !offer.tls12_ciphers.empty()) {
    SSL_CTX_set_security_level(native, 0);  // let the client offer what the server must refuse
  }
  if (offer.min_version != 0) SSL_CTX_set_min_proto_version(native, offer.min_version);
  if (offer.max_version != 0) SSL_CTX_set_max_proto_version(native, offer.max_version);
  if (!offer.tls12_ciphers.empty() &&
      SSL_CTX_set_cipher_list(native, offer.tls12_ciphers.c_str()) != 1) {
    throw std::invalid_argument("this OpenSSL cannot offer " + offer.tls12_ciphers);
  }
  return context;
}

}  // namespace

struct RawTlsClient::Impl {
  Impl(std::uint16_t port, const TlsOffer& offer) : tls(client_context(offer)), stream(io, tls) {
    stream.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    Watchdog watchdog(stream.lowest_layer().native_handle(), std::chrono::seconds(10));
    stream.handshake(ssl::stream_base::client);
  }

  asio::io_context io;
  ssl::context tls;
  ssl::stream<tcp::socket> stream;
  asio::streambuf buffer;
  bool timed_out = false;

  // Runs a blocking read under a watchdog and remembers whether the watchdog ended it.
  template <class Read>
  auto guarded(std::chrono::milliseconds limit, Read&& read) {
    Watchdog watchdog(stream.lowest_layer().native_handle(), limit);
    try {
      return read();
    } catch (...) {
      if (watchdog.fired()) timed_out = true;
      throw;
    }
  }
};

RawTlsClient::RawTlsClient(std::uint16_t port, const TlsOffer& offer)
    : impl_(std::make_unique<Impl>(port, offer)) {}

RawTlsClient::~RawTlsClient() = default;

int RawTlsClient::fd() const { return impl_->stream.lowest_layer().native_handle(); }

void RawTlsClient::write(const std::string& bytes) {
  asio::write(impl_->stream, asio::buffer(bytes));
}

bool RawTlsClient::try_write(const std::string& bytes) {
  boost::system::error_code ec;
  asio::write(impl_->stream, asio::buffer(bytes), ec);
  return !ec;
}

std::string RawTlsClient::read_until(const std::string& delimiter,
                                     std::chrono::milliseconds limit) {
  const auto size = impl_->guarded(
      limit, [&] { return asio::read_until(impl_->stream, impl_->buffer, delimiter); });
  std::string out(asio::buffers_begin(impl_->buffer.data()),
                  asio::buffers_begin(impl_->buffer.data()) + static_cast<std::ptrdiff_t>(size));
  impl_->buffer.consume(size);
  return out;
}

std::string RawTlsClient::read_exactly(std::size_t size, std::chrono::milliseconds limit) {
  if (impl_->buffer.size() < size) {
    impl_->guarded(limit, [&] {
      return asio::read(impl_->stream, impl_->buffer,
                        asio::transfer_exactly(size - impl_->buffer.size()));
    });
  }
  std::string out(asio::buffers_begin(impl_->buffer.data()),
                  asio::buffers_begin(impl_->buffer.data()) + static_cast<std::ptrdiff_t>(size));
  impl_->buffer.consume(size);
  return out;
}

bool RawTlsClient::wait_readable(std::chrono::milliseconds limit) {
  if (impl_->buffer.size() > 0 || SSL_pending(impl_->stream.native_handle()) > 0) return true;
  pollfd entry{fd(), POLLIN, 0};
  return ::poll(&entry, 1, static_cast<int>(limit.count())) > 0;
}

bool RawTlsClient::wait_closed(std::chrono::milliseconds limit) {
  Watchdog watchdog(fd(), limit);
  boost::system::error_code ec;
  char bytes[4096];
  while (!ec) impl_->stream.read_some(asio::buffer(bytes), ec);
  if (watchdog.fired()) impl_->timed_out = true;
  return !watchdog.fired();
}

bool RawTlsClient::timed_out() const { return impl_->timed_out; }

bool tls_handshake_succeeds(std::uint16_t port, const TlsOffer& offer) {
  try {
    RawTlsClient client(port, offer);
    return true;
  } catch (const boost::system::system_error&) {
    return false;
  }
}

std::string websocket_upgrade_headers() {
  return "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: telemed.v1\r\n";
}

}  // namespace tmc::testing

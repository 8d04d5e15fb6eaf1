// TlsStream: OpenSSL on the socket through a send/recv BIO; readiness waits through Asio.
#include "net/tls_stream.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/err.h>

#include <boost/asio/ssl/error.hpp>

namespace tmc::net {
namespace {

// SSL_get_error needs the thread's error queue empty before each operation. ERR_clear_error()
// resets all sixteen entries of the queue (two frees each) even when it is empty, as it nearly
// always is; it was 1.7% of the io thread's samples, called twice per read or write.
void clear_errors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

TlsStream::Outbox& outbox(BIO* bio) { return *static_cast<TlsStream::Outbox*>(BIO_get_data(bio)); }

int descriptor(BIO* bio) { return outbox(bio).descriptor; }

int socket_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
  BIO_clear_retry_flags(bio);
  auto& box = outbox(bio);
  if (!box.holding && box.sent < box.pending.size()) {  // behind a flush still sending
    // Only Beast's control frames come here (the session's writer waits for its flush): a few
    // pongs and a close. A peer that stops reading and keeps pinging would have every pong kept
    // without end; past the limit the write waits for the socket instead, and Beast reads no
    // more from that peer until it does.
    if (box.behind_flush + size > TlsStream::behind_flush_limit) {
      BIO_set_retry_write(bio);
      return 0;
    }
    box.behind_flush += size;
  }
  if (box.holding || box.sent < box.pending.size()) {  // kept, or behind a flush still sending
    box.pending.append(data, size);
    *written = size;
    return 1;
  }
  for (;;) {
    const ssize_t n = ::send(box.descriptor, data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      *written = static_cast<std::size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return 0;
  }
}

int socket_read(BIO* bio, char* data, std::size_t size, std::size_t* read) {
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(descriptor(bio), data, size, 0);
    if (n > 0) {
      *read = static_cast<std::size_t>(n);
      return 1;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(bio);
    if (n == 0) errno = 0;  // end of stream, not an error number
    return 0;
  }
}

long socket_ctrl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // held records wait for TlsStream::async_flush
}

int socket_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// The BIO method: plain send/recv on the descriptor held as the BIO's data. Unlike OpenSSL's
// socket BIO (write(2)), send with MSG_NOSIGNAL cannot raise SIGPIPE on a reset connection.
BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* created =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tmc non-blocking socket");
    if (created == nullptr || BIO_meth_set_write_ex(created, socket_write) != 1 ||
        BIO_meth_set_read_ex(created, socket_read) != 1 ||
        BIO_meth_set_ctrl(created, socket_ctrl) != 1 ||
        BIO_meth_set_create(created, socket_create) != 1) {
      throw std::runtime_error("TLS: cannot create the socket BIO method");
    }
    return created;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(socket_type socket, boost::asio::ssl::context& context)
    : socket_(std::move(socket)),
      outbox_(std::make_unique<Outbox>()),
      ssl_(SSL_new(context.native_handle())) {
  if (!ssl_) {
    ERR_clear_error();
    throw std::runtime_error("TLS: cannot create a connection");
  }
  BIO* bio = BIO_new(socket_method());
  if (bio == nullptr) {
    ERR_clear_error();
    throw std::runtime_error("TLS: cannot create a connection BIO");
  }
  outbox_->descriptor = socket_.native_handle();
  BIO_set_data(bio, outbox_.get());
  SSL_set_bio(ssl_.get(), bio, bio);  // the SSL object owns it now
  SSL_set_accept_state(ssl_.get());
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read what the socket has (several records) in one call instead of a header and a body.
  SSL_set_read_ahead(ssl_.get(), 1);
  socket_.native_non_blocking(true);
}

bool TlsStream::attempt(Kind kind, void* data, std::size_t size, boost::system::error_code& ec,
                        std::size_t& transferred, socket_type::wait_type& wait) {
  ec = {};
  transferred = 0;
  // The descriptor number may already belong to another connection once the socket closed.
  if (!socket_.is_open()) {
    ec = boost::asio::error::bad_descriptor;
    return true;
  }
  if (kind == Kind::shutdown && (outbox_->holding || held_bytes() > 0)) {
    // close_notify goes after every record written before it.
    if (!attempt_flush(ec, transferred, wait)) return false;
    if (ec) return true;
  }
  if ((kind == Kind::read || kind == Kind::write) && size == 0) return true;
  SSL* ssl = ssl_.get();
  clear_errors();
  errno = 0;
  int rc = 0;
  std::size_t done = 0;
  switch (kind) {
    case Kind::flush:
      return attempt_flush(ec, transferred, wait);
    case Kind::handshake:
      rc = SSL_do_handshake(ssl);
      break;
    case Kind::read:
      rc = SSL_read_ex(ssl, data, size, &done);
      break;
    case Kind::write:
      rc = SSL_write_ex(ssl, data, size, &done);
      break;
    case Kind::shutdown:
      if (!SSL_is_init_finished(ssl)) return true;  // nothing to close politely
      rc = SSL_shutdown(ssl);
      if (rc >= 0) return true;  // close_notify sent (the peer's is not awaited)
      break;
  }
  if (rc > 0) {
    transferred = done;
    return true;
  }
  const int saved_errno = errno;
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      wait = socket_type::wait_read;
      return false;
    case SSL_ERROR_WANT_WRITE:
      wait = socket_type::wait_write;
      return false;
    case SSL_ERROR_ZERO_RETURN:  // close_notify received
      ec = boost::asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL:
      ec = saved_errno != 0
               ? boost::system::error_code(saved_errno, boost::system::system_category())
               : boost::system::error_code(boost::asio::ssl::error::stream_truncated);
      break;
    default: {
      const unsigned long error = ERR_peek_last_error();
      if (ERR_GET_REASON(error) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ec = boost::asio::ssl::error::stream_truncated;  // closed without close_notify
      } else {
        ec = boost::system::error_code(static_cast<int>(error),
                                       boost::asio::error::get_ssl_category());
      }
      break;
    }
  }
  clear_errors();
  return true;
}

bool TlsStream::attempt_flush(boost::system::error_code& ec, std::size_t& transferred,
                              socket_type::wait_type& wait) {
  auto& box = *outbox_;
  box.holding = false;
  while (box.sent < box.pending.size()) {
    const ssize_t n = ::send(box.descriptor, box.pending.data() + box.sent,
                             box.pending.size() - box.sent, MSG_NOSIGNAL);
    if (n >= 0) {
      box.sent += static_cast<std::size_t>(n);
      transferred += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait = socket_type::wait_write;
      return false;
    }
    ec = boost::system::error_code(errno, boost::system::system_category());
    break;
  }
  std::string().swap(box.pending);  // an idle session keeps no buffer
  box.sent = 0;
  box.behind_flush = 0;
  return true;
}

void teardown(boost::beast::role_type role, TlsStream& stream, boost::system::error_code& ec) {
  if (stream.next_layer().is_open() && SSL_is_init_finished(stream.native_handle())) {
    SSL_shutdown(stream.native_handle());  // best effort: the socket is non-blocking
    ERR_clear_error();
  }
  using boost::beast::websocket::teardown;
  teardown(role, stream.next_layer(), ec);
}

}  // namespace tmc::net

// The server's TLS stream: OpenSSL reads and writes the socket itself; no buffers of our own.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <openssl/ssl.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace tmc::net {

// A server-side TLS connection for Beast (an AsyncStream, with websocket teardown below).
//
// asio::ssl::stream moves every byte through two fixed 17 KiB buffers of its own plus an
// OpenSSL BIO pair, all held for the life of the connection: most of what an idle session
// costs. Here OpenSSL reads and writes the non-blocking socket directly (through a small BIO
// that uses recv/send without SIGPIPE), and an operation that would block waits for the
// socket with async_wait and tries again. With SSL_MODE_RELEASE_BUFFERS (set on the server
// context) OpenSSL frees its record buffers whenever nothing is pending, so an idle session
// keeps only the SSL object.
//
// Like the socket it owns, the stream is used from one strand: at most one read and one write
// operation (and no handshake or shutdown during them) at a time. A write of several buffers
// is copied into one (up to one TLS record's worth) so that a WebSocket frame header and its
// payload travel in one record.
//
// Holding output: after hold_output(), the records of later writes are kept in memory (each
// write completes at once) until async_flush() sends them all with as few send calls as the
// socket allows. A writer with several small frames queued thus pays one system call (and the
// peer one wake-up) for all of them. Records written while a flush is still sending are
// appended behind it, so a control frame Beast writes meanwhile (a pong) keeps its order; past
// behind_flush_limit such a write waits for the socket like any other.
class TlsStream {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;
  using next_layer_type = socket_type;
  using lowest_layer_type = socket_type::lowest_layer_type;

  // Throws std::runtime_error when OpenSSL cannot create the connection state.
  TlsStream(socket_type socket, boost::asio::ssl::context& context);
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  socket_type& next_layer() noexcept { return socket_; }
  lowest_layer_type& lowest_layer() noexcept { return socket_.lowest_layer(); }
  SSL* native_handle() noexcept { return ssl_.get(); }

  // Token signatures: handshake and shutdown void(error_code); reads and writes
  // void(error_code, std::size_t).
  template <class Token>
  auto async_handshake(Token&& token) {
    return start(Kind::handshake, nullptr, 0, std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const auto first = first_buffer(buffers);
    return start(Kind::read, first.data(), first.size(), std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    const auto first = first_buffer(buffers);
    const std::size_t total = boost::asio::buffer_size(buffers);
    if (first.size() >= coalesce_limit || first.size() == total) {
      return start(Kind::write, const_cast<void*>(first.data()), first.size(),
                   std::forward<Token>(token));
    }
    // Several buffers: one copy, so that they go out in one record.
    auto joined = std::make_shared<std::string>(std::min(total, coalesce_limit), '\0');
    boost::asio::buffer_copy(boost::asio::buffer(*joined), buffers);
    void* const data = joined->data();
    const std::size_t size = joined->size();
    return start(Kind::write, data, size, std::forward<Token>(token), std::move(joined));
  }

  // Sends close_notify (does not wait for the peer's).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return start(Kind::shutdown, nullptr, 0, std::forward<Token>(token));
  }

  // Keeps the records of later writes in memory until async_flush.
  void hold_output() noexcept { outbox_->holding = true; }
  // Bytes of records kept and not yet sent.
  std::size_t held_bytes() const noexcept { return outbox_->pending.size() - outbox_->sent; }
  // A write waits for the socket with part of a record still inside OpenSSL, which then takes
  // only that same write again: another write must queue behind it (Beast's writes do).
  bool write_waiting() const noexcept { return writes_waiting_ > 0; }
  // Stops holding and sends every kept record. Token signature void(error_code, std::size_t).
  template <class Token>
  auto async_flush(Token&& token) {
    return start(Kind::flush, nullptr, 0, std::forward<Token>(token));
  }

  // What the socket BIO works with (its data pointer).
  struct Outbox {
    int descriptor = -1;
    bool holding = false;
    std::string pending;    // records kept or not yet sent by a flush
    std::size_t sent = 0;   // of pending
    std::size_t behind_flush = 0;  // of pending: written while a flush was sending
  };
  // The most kept behind a flush still sending; a write beyond it waits for the socket.
  static constexpr std::size_t behind_flush_limit = 64 * 1024;

 private:
  enum class Kind { handshake, read, write, shutdown, flush };
  static constexpr std::size_t coalesce_limit = 16 * 1024;  // one TLS record's payload

  struct SslFree {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
  };

  // One attempt of the operation. Returns true when it finished (ec, transferred set), false
  // when it must wait for the socket (wait set to read or write readiness).
  bool attempt(Kind kind, void* data, std::size_t size, boost::system::error_code& ec,
               std::size_t& transferred, socket_type::wait_type& wait);

  // The first non-empty buffer of a sequence (an empty one if there is none).
  template <class Buffers>
  static auto first_buffer(const Buffers& buffers) {
    using Buffer = std::decay_t<decltype(*boost::asio::buffer_sequence_begin(buffers))>;
    const auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it) {
      const Buffer buffer(*it);
      if (buffer.size() > 0) return buffer;
    }
    return Buffer();
  }

  // The composed operation: try, wait for readiness, try again. A result available at once is
  // delivered through a post, never from inside the initiating call.
  struct Op {
    TlsStream& stream;
    Kind kind;
    void* data;
    std::size_t size;
    std::shared_ptr<std::string> owned;  // the joined copy of a multi-buffer write
    bool started = false;
    bool finished = false;
    bool waiting = false;  // a write counted in writes_waiting_
    boost::system::error_code result;
    std::size_t transferred = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (finished) return self.complete(result, transferred);
      const bool first = !started;
      started = true;
      if (ec) {
        stop_waiting();
        return self.complete(ec, 0);
      }
      socket_type::wait_type wait = socket_type::wait_read;
      if (!stream.attempt(kind, data, size, result, transferred, wait)) {
        if (kind == Kind::write && !waiting) {
          waiting = true;
          ++stream.writes_waiting_;
        }
        return stream.socket_.async_wait(wait, std::move(self));
      }
      finished = true;
      stop_waiting();
      if (first) return boost::asio::post(stream.get_executor(), std::move(self));
      self.complete(result, transferred);
    }

    void stop_waiting() {
      if (!waiting) return;
      waiting = false;
      --stream.writes_waiting_;
    }
  };

  template <class Token>
  auto start(Kind kind, void* data, std::size_t size, Token&& token,
             std::shared_ptr<std::string> owned = nullptr) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        Op{*this, kind, data, size, std::move(owned), false, false, false, {}, 0}, token,
        socket_);
  }

  // Sends what the outbox keeps. Same contract as attempt.
  bool attempt_flush(boost::system::error_code& ec, std::size_t& transferred,
                     socket_type::wait_type& wait);

  socket_type socket_;
  int writes_waiting_ = 0;          // see write_waiting()
  std::unique_ptr<Outbox> outbox_;  // before ssl_: the BIO points at it
  std::unique_ptr<SSL, SslFree> ssl_;
};

// Beast's websocket close: close_notify, then the TCP teardown (the peer's remaining bytes are
// read and discarded until it closes, as for a plain socket).
void teardown(boost::beast::role_type role, TlsStream& stream, boost::system::error_code& ec);

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, TlsStream& stream, TeardownHandler&& handler) {
  stream.async_shutdown([&stream, role, handler = std::forward<TeardownHandler>(handler)](
                            boost::system::error_code, std::size_t) mutable {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, stream.next_layer(), std::move(handler));
  });
}

}  // namespace tmc::net

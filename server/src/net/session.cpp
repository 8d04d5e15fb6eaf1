// One accepted connection: TLS handshake, one HTTP request, then maybe a WebSocket session.
// This is the only translation unit that instantiates websocket::stream<TlsStream>.
#include "net/session.hpp"

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "net/http_routes.hpp"
#include "net/outbound_queue.hpp"
#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"

namespace tmc::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using WebSocket = websocket::stream<TlsStream>;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t http_header_limit = 16 * 1024;
constexpr std::uint64_t http_body_limit = 4 * 1024;
constexpr std::size_t websocket_write_buffer_bytes = 64 * 1024;
// Frames up to this size are held while more are queued; a burst is sent once this much is held.
constexpr std::size_t held_frame_max_bytes = 16 * 1024;
constexpr std::size_t held_bytes_max = 64 * 1024;
// Held frames are written to TLS together up to this many bytes: one record's plaintext.
constexpr std::size_t coalesced_bytes_max = 16 * 1024;
constexpr std::size_t close_reason_max = 123;  // RFC 6455: control frame payload <= 125

// Only held frames are framed here, so the 7- and 16-bit length forms are all it needs.
static_assert(held_frame_max_bytes <= 0xFFFF);

// Appends payload (at most held_frame_max_bytes) as one binary WebSocket message the way a
// server sends it (FIN, no mask).
void append_binary_frame(std::string& out, const std::string& payload) {
  const std::size_t size = payload.size();
  out += static_cast<char>(0x82);
  if (size < 126) {
    out += static_cast<char>(size);
  } else {
    out += static_cast<char>(126);
    out += static_cast<char>(size >> 8);
    out += static_cast<char>(size & 0xFF);
  }
  out += payload;
}

std::string format_endpoint(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  const auto address = endpoint.address();
  std::string text;
  if (address.is_v6()) text += '[';
  text += address.to_string();
  if (address.is_v6()) text += ']';
  text += ':';
  text += std::to_string(endpoint.port());
  return text;
}

std::string joined_field_values(const http::request<http::string_body>& request,
                                http::field field) {
  std::string joined;
  const auto [first, last] = request.equal_range(field);
  for (auto entry = first; entry != last; ++entry) {
    if (!joined.empty()) joined += ',';
    joined.append(entry->value().data(), entry->value().size());
  }
  return joined;
}

// A request the client sent completely but that we cannot parse or that is too large.
bool is_malformed_request(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// The lifetime of one connection. Every member is touched on the strand only; the public
// Outbound/Stoppable entry points post to it.
class Session final : public api::Outbound,
                      public Stoppable,
                      public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<SessionContext> context,
          std::shared_ptr<void> admission)
      : context_(std::move(context)),
        admission_(std::move(admission)),
        strand_(socket.get_executor()),
        remote_(format_endpoint(socket)),
        queue_(context_->options.outbound_queue_limit_bytes),
        close_timer_(strand_),
        deadline_timer_(strand_) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    ws_.emplace(std::move(socket), context_->tls);
  }

  void start() {
    const auto id = context_->registry.add(weak_from_this());
    if (!id) {
      drop_connection();
      return;
    }
    id_ = *id;
    spdlog::debug("net: connection {} accepted from {}", id_, remote_);
    asio::co_spawn(strand_, run(), asio::detached);
  }

  void send(std::shared_ptr<const std::string> frame, api::Lane lane) override {
    asio::post(strand_, [self = shared_from_this(), frame = std::move(frame), lane]() mutable {
      self->enqueue(std::move(frame), lane);
    });
  }

  void close(api::CloseCode code, std::string reason) override {
    asio::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
      self->begin_close(code, std::move(reason));
    });
  }

  void shut_down() override {
    asio::post(strand_, [self = shared_from_this()] {
      self->begin_close(api::CloseCode::going_away, "server shutting down");
    });
  }

 private:
  enum class State { handshaking, open, closing, ended };

  asio::awaitable<void> run() {
    const auto self = shared_from_this();
    reading_ = true;
    try {
      if (co_await accept_upgrade()) co_await read_messages();
    } catch (const std::exception& error) {
      spdlog::error("net: connection {} failed: {}", id_, error.what());
    }
    reading_ = false;
    end_connection();
  }

  // TLS handshake and one HTTP request, all within handshake_timeout of the accept. True when
  // the request was a WebSocket upgrade that has been accepted.
  asio::awaitable<bool> accept_upgrade() {
    const ServerOptions& options = context_->options;
    const auto deadline = std::chrono::steady_clock::now() + options.handshake_timeout;
    auto& tls_stream = ws_->next_layer();
    arm_deadline(deadline);  // covers every operation until disarm_deadline()

    if (auto [ec, unused] = co_await tls_stream.async_handshake(use_tuple); ec) {
      spdlog::debug("net: connection {} TLS handshake failed: {}", id_, ec.message());
      counters().failed(timed_out_ ? HandshakeFailure::timeout : HandshakeFailure::tls);
      co_return false;
    }
    counters().tls_handshakes++;
    client_organization_ = verified_client_organization(tls_stream.native_handle());

    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.header_limit(http_header_limit);
    parser.body_limit(http_body_limit);
    if (auto [ec, bytes] = co_await http::async_read(tls_stream, buffer, parser, use_tuple); ec) {
      spdlog::debug("net: connection {} HTTP read failed: {}", id_, ec.message());
      counters().failed(timed_out_ ? HandshakeFailure::timeout : HandshakeFailure::http);
      if (is_malformed_request(ec)) {
        co_await respond(HttpRoute{false, 400, "text/plain", "bad request\n"}, 11);
      }
      co_return false;
    }
    const auto& request = parser.get();
    const auto origin = request.find(http::field::origin);
    const bool has_origin = origin != request.end();
    const std::string subprotocols =
        joined_field_values(request, http::field::sec_websocket_protocol);
    HttpRequestFacts facts;
    facts.method = request.method_string();
    facts.target = request.target();
    facts.websocket_upgrade = websocket::is_upgrade(request);
    facts.subprotocols = subprotocols;
    facts.has_origin = has_origin;
    if (has_origin) facts.origin = origin->value();
    HttpRoute route = route_http_request(facts, options.allowed_origins, *context_->handler);
    if (!route.upgrade) {
      co_await respond(route, request.version());
      co_return false;
    }
    if (has_origin) origin_ = std::string(origin->value());

    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) co_return false;
    disarm_deadline();  // the websocket stream keeps its own timers from here on
    configure_websocket(remaining);
    if (auto [ec] = co_await ws_->async_accept(request, use_tuple); ec) {
      spdlog::debug("net: connection {} WebSocket accept failed: {}", id_, ec.message());
      counters().failed(HandshakeFailure::websocket);
      co_return false;
    }
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.handshake_timeout = options.close_timeout;  // from now on: the close handshake
    timeouts.idle_timeout = options.idle_timeout;
    ws_->set_option(timeouts);
    co_return true;
  }

  void configure_websocket(std::chrono::milliseconds accept_time_left) {
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.handshake_timeout = accept_time_left;
    timeouts.idle_timeout = context_->options.idle_timeout;
    ws_->set_option(timeouts);
    websocket::permessage_deflate no_deflate;
    no_deflate.server_enable = false;
    no_deflate.client_enable = false;
    ws_->set_option(no_deflate);
    ws_->read_message_max(context_->options.max_frame_bytes);
    ws_->auto_fragment(false);
    ws_->write_buffer_bytes(websocket_write_buffer_bytes);
    ws_->binary(true);
    ws_->set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::server, "tmc");
      response.set(http::field::sec_websocket_protocol, websocket_subprotocol);
    }));
  }

  // A plain HTTP response, then a TLS shutdown; the connection ends after it (Connection: close).
  asio::awaitable<void> respond(const HttpRoute& route, unsigned version) {
    http::response<http::string_body> response{static_cast<http::status>(route.status), version};
    response.set(http::field::server, "tmc");
    response.set(http::field::content_type, route.content_type);
    response.set(http::field::cache_control, "no-store");
    response.keep_alive(false);
    response.body() = route.body;
    response.prepare_payload();
    spdlog::debug("net: connection {} HTTP {}", id_, route.status);
    arm_deadline(std::chrono::steady_clock::now() + context_->options.handshake_timeout);
    auto& tls_stream = ws_->next_layer();
    if (auto [ec, bytes] = co_await http::async_write(tls_stream, response, use_tuple); ec) {
      co_return;
    }
    co_await tls_stream.async_shutdown(use_tuple);
  }

  // Until disarmed, the connection is dropped at deadline (every pending operation fails).
  void arm_deadline(std::chrono::steady_clock::time_point deadline) {
    deadline_timer_.expires_at(deadline);
    deadline_timer_.async_wait([self = shared_from_this()](const beast::error_code& ec) {
      if (ec) return;
      self->timed_out_ = true;
      self->drop_connection();
    });
  }
  void disarm_deadline() { deadline_timer_.cancel(); }

  asio::awaitable<void> read_messages() {
    state_ = State::open;
    connection_ = context_->handler->open(shared_from_this(),
                                          api::PeerInfo{remote_, client_organization_, origin_});
    if (!connection_) co_return;
    spdlog::info("net: connection {} from {} opened a WebSocket session", id_, remote_);
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, bytes] = co_await ws_->async_read(buffer, use_tuple);
      if (ec) {
        log_read_end(ec);
        co_return;
      }
      if (!ws_->got_binary()) {
        begin_close(api::CloseCode::unsupported_data, "text frames are not supported");
      } else if (state_ == State::open) {
        const auto data = buffer.cdata();
        connection_->on_binary({static_cast<const char*>(data.data()), data.size()});
      }
      buffer.clear();
    }
  }

  void log_read_end(const beast::error_code& ec) {
    if (ec == websocket::error::closed) {
      spdlog::info("net: connection {} closed ({})", id_, ws_->reason().code);
    } else if (ec == websocket::error::message_too_big) {
      spdlog::info("net: connection {} sent a message over {} bytes; closed (1009)", id_,
                   context_->options.max_frame_bytes);
    } else if (state_ == State::closing) {
      // We sent the close frame; how the peer ended it afterwards is of little interest.
      spdlog::info("net: connection {} closed ({}): {}", id_, static_cast<unsigned>(close_code_),
                   ec.message());
    } else if (ec == beast::error::timeout) {
      spdlog::info("net: connection {} idle; dropped", id_);
    } else {
      spdlog::info("net: connection {} ended: {}", id_, ec.message());
    }
  }

  void enqueue(std::shared_ptr<const std::string> frame, api::Lane lane) {
    if (state_ != State::open) return;
    if (!queue_.push(std::move(frame), lane)) {
      spdlog::warn("net: connection {} outbound queue over {} bytes (slow consumer)", id_,
                   context_->options.outbound_queue_limit_bytes);
      queue_.clear();
      report_queue_bytes();
      counters().slow_consumer_closes++;
      begin_close(api::CloseCode::try_again_later, "slow consumer");
      return;
    }
    report_queue_bytes();
    start_writing();
  }

  void begin_close(api::CloseCode code, std::string reason) {
    if (state_ == State::handshaking) {
      drop_connection();
      return;
    }
    if (state_ != State::open) return;
    state_ = State::closing;
    close_code_ = code;
    reason.resize(std::min(reason.size(), close_reason_max));
    close_reason_ = std::move(reason);
    queue_.drop_bulk();
    report_queue_bytes();
    spdlog::info("net: connection {} closing ({})", id_, static_cast<unsigned>(code));
    close_timer_.expires_after(context_->options.close_timeout);
    close_timer_.async_wait([self = shared_from_this()](const beast::error_code& ec) {
      if (!ec) self->drop_connection();
    });
    start_writing();
  }

  // The writer starts on a later turn of the executor, not inside this call (co_spawn would
  // run it at once): by then whatever else the same handler enqueued, or the handlers already
  // queued before it, is waiting too and leaves in the same record and send. A sender's own
  // event and the response after it are two frames queued back to back, which a writer started
  // at once sent as two.
  void start_writing() {
    if (writing_) return;
    writing_ = true;
    asio::post(strand_, [self = shared_from_this()] {
      asio::co_spawn(self->strand_, self->write_frames(), asio::detached);
    });
  }

  // The one writer: control frames before bulk, then the close frame once closing. While more
  // small frames wait, their records are held and leave together (one send for the burst), and
  // the frames themselves are framed here and handed to TLS together, up to a record's worth:
  // one record for several frames instead of one each (Beast writes a record per message).
  // Beast's own writes (pongs, pings, the close) go between whole records, so between whole
  // frames; while one of them waits for the socket with a record half sent, frames queue
  // behind it through Beast.
  asio::awaitable<void> write_frames() {
    const auto self = shared_from_this();
    auto& tls = ws_->next_layer();
    try {
      bool holding = false;
      bool failed = false;
      std::string coalesced;
      while (auto frame = queue_.pop()) {
        report_queue_bytes();
        const bool small = frame->size() <= held_frame_max_bytes;
        if (holding && !small) {
          holding = false;
          if (auto [ec, bytes] = co_await tls.async_flush(use_tuple); ec) failed = true;
        }
        if (!failed && !holding && small && !queue_.empty()) {
          tls.hold_output();
          holding = true;
        }
        if (!failed && holding && small && !tls.write_waiting()) {
          coalesced.clear();
          append_binary_frame(coalesced, *frame);
          while (const auto* next = queue_.peek()) {
            if (next->size() > held_frame_max_bytes ||
                coalesced.size() + 4 + next->size() > coalesced_bytes_max) {
              break;
            }
            append_binary_frame(coalesced, *queue_.pop());
          }
          report_queue_bytes();
          if (!ws_->is_open()) {  // Beast has closed: no data frame may follow its close frame
            failed = true;
          } else {
            auto [ec, bytes] = co_await asio::async_write(tls, asio::buffer(coalesced), use_tuple);
            failed = static_cast<bool>(ec);
          }
        } else if (!failed) {
          auto [ec, bytes] = co_await ws_->async_write(asio::buffer(*frame), use_tuple);
          failed = static_cast<bool>(ec);
        }
        if (!failed && holding && (queue_.empty() || tls.held_bytes() >= held_bytes_max)) {
          holding = false;
          if (auto [ec, bytes] = co_await tls.async_flush(use_tuple); ec) failed = true;
        }
        if (failed) {
          queue_.clear();
          report_queue_bytes();
          drop_connection();
          break;
        }
      }
      if (holding && !failed) {  // the queue was emptied under us (closing drops bulk frames)
        if (auto [ec, bytes] = co_await tls.async_flush(use_tuple); ec) drop_connection();
      }
      if (state_ == State::closing && !close_sent_) {
        close_sent_ = true;
        const websocket::close_reason reason{static_cast<websocket::close_code>(close_code_),
                                             close_reason_};
        if (auto [ec] = co_await ws_->async_close(reason, use_tuple); ec) {
          spdlog::debug("net: connection {} close handshake: {}", id_, ec.message());
        }
      }
    } catch (const std::exception& error) {
      spdlog::error("net: connection {} writer failed: {}", id_, error.what());
      drop_connection();
    }
    writing_ = false;
    finish_if_idle();
  }

  // The read side is over: the api hears about it once; a pending write cannot succeed.
  void end_connection() {
    state_ = State::ended;
    queue_.clear();
    report_queue_bytes();
    if (auto connection = std::exchange(connection_, nullptr)) connection->on_closed();
    if (writing_) drop_connection();
    finish_if_idle();
  }

  void finish_if_idle() {
    if (reading_ || writing_ || finished_) return;
    finished_ = true;
    close_timer_.cancel();
    deadline_timer_.cancel();
    drop_connection();
    // Free the TLS/WebSocket state now; the api may keep this Outbound for a while.
    asio::post(strand_, [self = shared_from_this()] { self->ws_.reset(); });
    spdlog::debug("net: connection {} finished", id_);
    context_->registry.remove(id_);
  }

  NetCounters& counters() { return context_->counters; }

  // Keeps the server-wide queued-bytes gauge in step with this session's queue.
  void report_queue_bytes() {
    const auto queued = static_cast<std::int64_t>(queue_.queued_bytes());
    counters().outbound_queue_bytes += queued - reported_queue_bytes_;
    reported_queue_bytes_ = queued;
  }

  void drop_connection() {
    if (!ws_) return;
    auto& socket = beast::get_lowest_layer(*ws_);
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  std::shared_ptr<SessionContext> context_;
  std::shared_ptr<void> admission_;  // released when the session ends
  asio::any_io_executor strand_;
  std::string remote_;
  std::optional<WebSocket> ws_;
  std::uint64_t id_ = 0;
  State state_ = State::handshaking;
  OutboundQueue queue_;
  asio::steady_timer close_timer_;
  asio::steady_timer deadline_timer_;  // the handshake deadline, then the HTTP answer's
  bool timed_out_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  std::int64_t reported_queue_bytes_ = 0;
  api::CloseCode close_code_ = api::CloseCode::normal;
  std::string close_reason_;
  std::string client_organization_;
  std::string origin_;
  std::shared_ptr<api::Connection> connection_;
};

}  // namespace

void start_session(tcp::socket socket, std::shared_ptr<SessionContext> context,
                   std::shared_ptr<void> admission) {
  std::make_shared<Session>(std::move(socket), std::move(context), std::move(admission))->start();
}

}  // namespace tmc::net

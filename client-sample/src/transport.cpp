// The client's WebSocket-over-TLS link: every Beast instantiation of the client lives here.
#include "transport.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <algorithm>
#include <chrono>
#include <utility>

#include "tmc/client/error.hpp"

namespace tmc::client::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using boost::system::error_code;

[[noreturn]] void fail(const error_code& ec, const std::string& what) {
  throw ClientError(ec, what + ": " + ec.message());
}

bool is_ip_address(const std::string& host) {
  error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

// "host:port" as the Host header wants it (IPv6 literals in brackets).
std::string authority(const ClientOptions& options) {
  const bool ipv6 = options.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + options.host + "]" : options.host) + ":" + options.port;
}

ssl::context make_tls_context(const ClientOptions& options) {
  ssl::context context(ssl::context::tls_client);
  SSL_CTX* native = context.native_handle();
  if (SSL_CTX_set_min_proto_version(
          native, options.min_tls_version != 0 ? options.min_tls_version : TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(native, options.max_tls_version) != 1) {
    throw ClientError(std::make_error_code(std::errc::invalid_argument),
                      "unsupported TLS version bounds");
  }
  context.set_verify_mode(ssl::verify_peer);
  error_code ec;
  if (options.ca_file.empty()) {
    context.set_default_verify_paths(ec);
    if (ec) fail(ec, "cannot load the system trust store");
  } else {
    context.load_verify_file(options.ca_file, ec);
    if (ec) fail(ec, "cannot load CA file " + options.ca_file);
  }
  if (!options.client_certificate_file.empty()) {
    context.use_certificate_chain_file(options.client_certificate_file, ec);
    if (ec) fail(ec, "cannot load client certificate " + options.client_certificate_file);
    context.use_private_key_file(options.client_private_key_file, ssl::context::pem, ec);
    if (ec) fail(ec, "cannot load client key " + options.client_private_key_file);
  }
  return context;
}

}  // namespace

struct Transport::State {
  State(const asio::any_io_executor& executor, const ClientOptions& options)
      : tls(make_tls_context(options)), ws(executor, tls) {}

  ssl::context tls;  // must outlive the stream
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws;
  beast::flat_buffer buffer;
};

Transport::Transport(asio::any_io_executor executor, const ClientOptions& options)
    : executor_(std::move(executor)), options_(options) {}

Transport::~Transport() = default;

asio::awaitable<void> Transport::connect() {
  // One deadline for the whole connection, from here: loading the trust store (the system's is
  // about 140 certificates) and resolving count against it as well.
  const auto deadline = std::chrono::steady_clock::now() + options_.connect_timeout;
  state_ = std::make_unique<State>(executor_, options_);
  auto& ws = state_->ws;
  auto& tcp_layer = beast::get_lowest_layer(ws);
  const std::string where = authority(options_);
  const auto redirect = [](error_code& ec) {
    return asio::redirect_error(asio::use_awaitable, ec);
  };
  error_code ec;

  asio::ip::tcp::resolver resolver(executor_);
  const auto endpoints =
      co_await resolver.async_resolve(options_.host, options_.port, redirect(ec));
  if (ec) fail(ec, "cannot resolve " + options_.host);

  tcp_layer.expires_at(deadline);
  co_await tcp_layer.async_connect(endpoints, redirect(ec));
  if (ec) fail(ec, "cannot connect to " + where);

  SSL* native = ws.next_layer().native_handle();
  // SNI must not carry an IP literal (RFC 6066); the certificate check covers both forms.
  if (!is_ip_address(options_.host) &&
      SSL_set_tlsext_host_name(native, options_.host.c_str()) != 1) {
    fail(error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()),
         "cannot set TLS server name");
  }
  ws.next_layer().set_verify_callback(ssl::host_name_verification(options_.host));
  co_await ws.next_layer().async_handshake(ssl::stream_base::client, redirect(ec));
  if (ec) fail(ec, "TLS handshake with " + where + " failed");

  // From here the WebSocket stream runs its own timers (Beast wants the TCP ones off).
  tcp_layer.expires_never();
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
  // Beast counts the upgrade's timeout from the upgrade's start: what is left of the deadline
  // (none left: it times out at once).
  timeouts.handshake_timeout = std::max<std::chrono::steady_clock::duration>(
      deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
  if (options_.idle_timeout.count() > 0) {
    timeouts.idle_timeout = options_.idle_timeout;
    timeouts.keep_alive_pings = true;
  }
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator(
      [subprotocol = options_.subprotocol](websocket::request_type& request) {
        request.set(http::field::sec_websocket_protocol, subprotocol);
        request.set(http::field::user_agent, "tmc-client");
      }));
  ws.read_message_max(options_.max_frame_bytes);
  ws.binary(true);

  websocket::response_type response;
  co_await ws.async_handshake(response, where, "/v1/ws", redirect(ec));
  if (ec == websocket::error::upgrade_declined) {
    throw ClientError(errc::upgrade_refused, "server " + where +
                                                 " refused the WebSocket upgrade: HTTP " +
                                                 std::to_string(response.result_int()) + " " +
                                                 std::string(response.reason()));
  }
  if (ec) fail(ec, "WebSocket upgrade with " + where + " failed");
  if (response[http::field::sec_websocket_protocol] != options_.subprotocol) {
    abort();
    throw ClientError(
        errc::subprotocol_refused,
        "server " + where + " did not accept subprotocol \"" + options_.subprotocol + "\"");
  }
}

asio::awaitable<Incoming> Transport::read() {
  Incoming incoming;
  if (!state_) {
    incoming.error = asio::error::not_connected;
    co_return incoming;
  }
  auto& buffer = state_->buffer;
  buffer.clear();
  co_await state_->ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, incoming.error));
  if (!incoming.error) {
    incoming.payload = beast::buffers_to_string(buffer.data());
    incoming.text = state_->ws.got_text();
  }
  co_return incoming;
}

asio::awaitable<error_code> Transport::write(std::string_view payload, bool text) {
  if (!state_) co_return asio::error::not_connected;
  error_code ec;
  state_->ws.text(text);
  co_await state_->ws.async_write(asio::buffer(payload.data(), payload.size()),
                                  asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

asio::awaitable<error_code> Transport::close(std::uint16_t code) {
  if (!state_) co_return asio::error::not_connected;
  error_code ec;
  co_await state_->ws.async_close(websocket::close_reason(code),
                                  asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

std::optional<CloseInfo> Transport::peer_close() const {
  if (!state_) return std::nullopt;
  const websocket::close_reason& reason = state_->ws.reason();
  if (reason.code == websocket::close_code::none) return std::nullopt;
  return CloseInfo{static_cast<std::uint16_t>(reason.code),
                   std::string(reason.reason.data(), reason.reason.size())};
}

void Transport::abort() noexcept {
  if (state_) beast::get_lowest_layer(state_->ws).close();
}

}  // namespace tmc::client::detail

// BlockingClient failure paths that need no telemed server: refused, bad CA, broken TLS, timeout.
#include "tmc/client/blocking_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <optional>
#include <thread>

#include "test_server.hpp"

namespace tmc::client {
namespace {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using asio::ip::tcp;
using namespace std::chrono_literals;

// The server side of the dev certificate.
asio::ssl::context dev_tls() {
  testing::dev_ca_file();  // makes the dev certificates if they are missing
  asio::ssl::context tls(asio::ssl::context::tls_server);
  tls.use_certificate_chain_file(testing::dev_certs_dir() + "/server.crt");
  tls.use_private_key_file(testing::dev_certs_dir() + "/server.key", asio::ssl::context::pem);
  return tls;
}

// A loopback server that accepts one connection and then either
// - (raw) sends a reply in plain TCP and closes it, or with an empty reply holds it open
//   without a word, or
// - (TLS, the dev certificate) waits tls_delay before it answers the TLS handshake and then
//   says nothing more: a peer too slow to finish connecting.
// Either way it keeps the connection until destroyed.
class PeerServer {
 public:
  explicit PeerServer(std::string reply) : reply_(std::move(reply)) {
    acceptor_.async_accept(stream_.next_layer(), [this](boost::system::error_code ec) {
      if (!ec && !reply_.empty()) {
        asio::write(stream_.next_layer(), asio::buffer(reply_), ec);
        stream_.next_layer().close(ec);
      }
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  explicit PeerServer(std::chrono::milliseconds tls_delay) {
    acceptor_.async_accept(stream_.next_layer(), [this, tls_delay](boost::system::error_code ec) {
      if (ec) return;
      delay_.expires_after(tls_delay);
      delay_.async_wait([this](boost::system::error_code) {
        stream_.async_handshake(asio::ssl::stream_base::server, [this](boost::system::error_code) {
          stream_.async_read_some(asio::buffer(request_), [](boost::system::error_code, size_t) {});
        });
      });
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~PeerServer() {
    io_.stop();
    thread_.join();
  }
  std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }

 private:
  asio::io_context io_;
  asio::ssl::context tls_ = dev_tls();  // before stream_: a TLS stream takes it then
  tcp::acceptor acceptor_{io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  asio::ssl::stream<tcp::socket> stream_{io_, tls_};
  asio::steady_timer delay_{io_};
  std::string reply_;
  char request_[4096] = {};
  std::thread thread_;
};

// A loopback WebSocket server (TLS with the dev certificate) that accepts one connection's
// upgrade and then neither reads nor writes: a link that died without a FIN or RST.
class MutePeer {
 public:
  MutePeer() {
    acceptor_.async_accept(socket_, [this](boost::system::error_code ec) {
      if (ec) return;
      ws_.emplace(std::move(socket_), tls_);
      ws_->next_layer().async_handshake(
          asio::ssl::stream_base::server, [this](boost::system::error_code handshaken) {
            if (handshaken) return;
            ws_->set_option(websocket::stream_base::decorator([](websocket::response_type& r) {
              r.set(boost::beast::http::field::sec_websocket_protocol, "telemed.v1");
            }));
            ws_->async_accept([](boost::system::error_code) {});
          });
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~MutePeer() {
    io_.stop();
    thread_.join();
  }
  std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }

 private:
  asio::io_context io_;
  asio::ssl::context tls_ = dev_tls();
  tcp::acceptor acceptor_{io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  tcp::socket socket_{io_};
  std::optional<websocket::stream<asio::ssl::stream<tcp::socket>>> ws_;
  std::thread thread_;
};

ClientOptions loopback(const std::string& port) {
  ClientOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  options.ca_file = "";  // system trust store: never reached in these tests
  options.connect_timeout = 2s;
  return options;
}

std::string unused_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return std::to_string(acceptor.local_endpoint().port());
}

template <class F>
ClientError expect_client_error(F&& f) {
  try {
    f();
  } catch (const ClientError& e) {
    return e;
  }
  ADD_FAILURE() << "no ClientError thrown";
  return ClientError(errc::not_connected, "");
}

// A client that trusts the dev CA connects to port within timeout, which is expected to fail:
// the error and how long the attempt took.
struct FailedConnect {
  ClientError error;
  std::chrono::steady_clock::duration elapsed;
};
FailedConnect dev_ca_connect(const std::string& port, std::chrono::milliseconds timeout) {
  ClientOptions options = loopback(port);
  options.ca_file = testing::dev_ca_file();
  options.connect_timeout = timeout;
  BlockingClient client(options);
  const auto started = std::chrono::steady_clock::now();
  ClientError error = expect_client_error([&] { client.connect(); });
  EXPECT_FALSE(client.is_open());
  return {std::move(error), std::chrono::steady_clock::now() - started};
}

TEST(BlockingClient, RefusedConnectionNamesTheServer) {
  const std::string port = unused_port();
  BlockingClient client(loopback(port));
  const ClientError error = expect_client_error([&] { client.connect(); });
  EXPECT_EQ(error.code(), std::errc::connection_refused);
  EXPECT_EQ(std::string(error.what()).rfind("cannot connect to 127.0.0.1:" + port, 0), 0u)
      << error.what();
  EXPECT_FALSE(client.is_open());
}

TEST(BlockingClient, UnreadableCaFileFailsConnect) {
  ClientOptions options = loopback(unused_port());
  options.ca_file = "/nonexistent/ca.crt";
  BlockingClient client(options);
  const ClientError error = expect_client_error([&] { client.connect(); });
  EXPECT_NE(std::string(error.what()).find("cannot load CA file /nonexistent/ca.crt"),
            std::string::npos)
      << error.what();
}

TEST(BlockingClient, NonTlsPeerFailsTheHandshake) {
  PeerServer server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  BlockingClient client(loopback(server.port()));
  const ClientError error = expect_client_error([&] { client.connect(); });
  EXPECT_NE(std::string(error.what()).find("TLS handshake with 127.0.0.1:"), std::string::npos)
      << error.what();
}

TEST(BlockingClient, SilentPeerTimesOutWithinConnectTimeout) {
  PeerServer server("");
  // The set-up (loading the trust store) counts against the timeout too: the dev CA loads far
  // faster than the system's (about 140 certificates), which under ThreadSanitizer on a loaded
  // machine took longer than a 300 ms timeout.
  const auto [error, elapsed] = dev_ca_connect(server.port(), 1s);
  EXPECT_LT(elapsed, 5s);
  EXPECT_NE(std::string(error.what()).find("TLS handshake"), std::string::npos) << error.what();
}

// connect_timeout bounds the whole connection: an upgrade that starts late gets only what is
// left of it, not a timeout of its own (which let a connection take up to twice as long).
TEST(BlockingClient, ConnectTimeoutBoundsTheUpgradeToWhatTheHandshakeLeft) {
  PeerServer server(1200ms);
  const auto [error, elapsed] = dev_ca_connect(server.port(), 2s);
  EXPECT_NE(std::string(error.what()).find("WebSocket upgrade with 127.0.0.1:"),
            std::string::npos)
      << error.what();
  // 2 s and whatever the timer's wake-up takes; the upgrade's own 2 s would end at 3.2 s.
  EXPECT_LT(elapsed, 2800ms);
}

// A link that goes silent is noticed (the peer answers no ping) and reported as dropped, so
// that a client waiting for events learns to reconnect instead of waiting forever.
TEST(BlockingClient, ASilentLinkIsDroppedAtTheIdleTimeout) {
  MutePeer peer;
  ClientOptions options = loopback(peer.port());
  options.ca_file = testing::dev_ca_file();
  options.host = "localhost";
  options.idle_timeout = 1s;
  BlockingClient client(options);
  client.connect();
  ASSERT_TRUE(client.is_open());
  const auto closed = client.wait_closed(20s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, abnormal_closure);
  EXPECT_FALSE(client.is_open());
}

TEST(BlockingClient, UseBeforeConnectFailsFast) {
  BlockingClient client(loopback(unused_port()));
  telemed::v1::ClientFrame frame;
  frame.mutable_list_organizations();
  const ClientError error = expect_client_error([&] { client.call(frame, 1s); });
  EXPECT_EQ(error.code(), errc::not_connected);
  EXPECT_EQ(expect_client_error([&] { client.send_raw("x", true); }).code(), errc::not_connected);
  EXPECT_FALSE(client.is_open());
  EXPECT_FALSE(client.next_event(10ms).has_value());
  EXPECT_FALSE(client.wait_closed(10ms).has_value());
}

TEST(BlockingClient, ConnectTwiceIsRefused) {
  BlockingClient client(loopback(unused_port()));
  EXPECT_THROW(client.connect(), ClientError);
  EXPECT_EQ(expect_client_error([&] { client.connect(); }).code(), errc::already_connected);
}

}  // namespace
}  // namespace tmc::client

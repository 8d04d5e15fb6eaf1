// BlockingClient failure paths that need no telemed server: refused, bad CA, broken TLS, timeout.
#include "tmc/client/blocking_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <thread>

namespace tmc::client {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// A loopback TCP server that accepts one connection and then either sends a reply and closes
// it, or (with an empty reply) holds it open without a word until destroyed.
class RawServer {
 public:
  explicit RawServer(std::string reply)
      : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
        reply_(std::move(reply)) {
    acceptor_.async_accept(socket_, [this](boost::system::error_code ec) {
      if (!ec && !reply_.empty()) {
        asio::write(socket_, asio::buffer(reply_), ec);
        socket_.close(ec);
      }
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RawServer() {
    io_.stop();
    thread_.join();
  }
  std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket socket_{io_};
  std::string reply_;
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
  RawServer server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  BlockingClient client(loopback(server.port()));
  const ClientError error = expect_client_error([&] { client.connect(); });
  EXPECT_NE(std::string(error.what()).find("TLS handshake with 127.0.0.1:"), std::string::npos)
      << error.what();
}

TEST(BlockingClient, SilentPeerTimesOutWithinConnectTimeout) {
  RawServer server("");
  ClientOptions options = loopback(server.port());
  options.connect_timeout = 300ms;
  BlockingClient client(options);
  const auto started = std::chrono::steady_clock::now();
  const ClientError error = expect_client_error([&] { client.connect(); });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_NE(std::string(error.what()).find("TLS handshake"), std::string::npos) << error.what();
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

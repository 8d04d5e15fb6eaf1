// The network layer end to end: TLS, HTTP endpoints, WebSocket rules, limits and shutdown.
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <gtest/gtest.h>

#include "net/server.hpp"
#include "net/tls_stream.hpp"
#include "raw_tls_client.hpp"

namespace tmc::net {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using TlsSocket = ssl::stream<tcp::socket>;
using Client = websocket::stream<TlsSocket>;
using namespace std::chrono_literals;

constexpr auto event_deadline = 10s;

// Certificates for one test run: a self-signed server certificate and a CA-issued client
// certificate whose subject O is the organisation id "org-42".
struct Certificates {
  fs::path dir;
  fs::path server_cert, server_key, ca_cert, client_cert, client_key;

  static const Certificates& get() {
    static const Certificates certificates = make();
    // The directory (test keys included) goes when the test process exits.
    static const struct Remover {
      fs::path dir;
      ~Remover() {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
      }
    } remover{certificates.dir};
    return certificates;
  }

 private:
  static void run(const std::string& command) {
    const std::string quiet = command + " >/dev/null 2>&1";
    if (std::system(quiet.c_str()) != 0) throw std::runtime_error("failed: " + command);
  }
  static Certificates make() {
    Certificates c;
    c.dir = fs::temp_directory_path() / ("tmc-net-test-" + std::to_string(::getpid()));
    fs::create_directories(c.dir);
    const auto p = [&](const char* name) { return c.dir / name; };
    c.server_cert = p("server.pem");
    c.server_key = p("server.key");
    c.ca_cert = p("ca.pem");
    c.client_cert = p("client.pem");
    c.client_key = p("client.key");
    const std::string new_key = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    run("openssl req -x509" + new_key + " -days 1 -subj /CN=localhost -keyout " +
        c.server_key.string() + " -out " + c.server_cert.string());
    run("openssl req -x509" + new_key + " -days 1 -subj /CN=tmc-test-ca -keyout " +
        p("ca.key").string() + " -out " + c.ca_cert.string());
    run("openssl req" + new_key + " -subj /O=org-42/CN=gateway -keyout " +
        c.client_key.string() + " -out " + p("client.csr").string());
    run("openssl x509 -req -days 1 -in " + p("client.csr").string() + " -CA " +
        c.ca_cert.string() + " -CAkey " + p("ca.key").string() + " -CAcreateserial -out " +
        c.client_cert.string());
    return c;
  }
};

// Counts on_closed calls and remembers peers; waits on both with deadlines.
class FakeHandler : public api::Handler {
 public:
  class EchoConnection : public api::Connection {
   public:
    EchoConnection(FakeHandler& handler, std::shared_ptr<api::Outbound> outbound)
        : handler_(handler), outbound_(std::move(outbound)) {}
    void on_binary(std::string_view payload) override {
      if (payload == "bad") {
        outbound_->close(api::CloseCode::protocol_error, "undecodable frame");
      } else if (payload == "pair") {  // two frames queued by one handler, as the api does
        outbound_->send(std::make_shared<const std::string>("first"), api::Lane::control);
        outbound_->send(std::make_shared<const std::string>("second"), api::Lane::control);
      } else if (payload == "flood") {
        const auto chunk = std::make_shared<const std::string>(16 * 1024, 'x');
        for (int i = 0; i < 200; ++i) outbound_->send(chunk, api::Lane::bulk);
      } else {
        outbound_->send(std::make_shared<const std::string>(payload), api::Lane::control);
      }
    }
    void on_closed() override {
      EXPECT_EQ(++closed_calls_, 1) << "on_closed called more than once";
      handler_.note_closed();
    }

   private:
    FakeHandler& handler_;
    std::shared_ptr<api::Outbound> outbound_;
    int closed_calls_ = 0;
  };

  std::shared_ptr<api::Connection> open(std::shared_ptr<api::Outbound> outbound,
                                        api::PeerInfo peer) override {
    std::lock_guard lock(mutex_);
    peers_.push_back(std::move(peer));
    return std::make_shared<EchoConnection>(*this, std::move(outbound));
  }
  bool ready() const override { return true; }
  std::string metrics_text() const override { return "tmc_sessions 0\n"; }

  bool wait_closed(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, event_deadline, [&] { return closed_ >= count; });
  }
  std::vector<api::PeerInfo> peers() const {
    std::lock_guard lock(mutex_);
    return peers_;
  }

 private:
  void note_closed() {
    std::lock_guard lock(mutex_);
    ++closed_;
    changed_.notify_all();
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<api::PeerInfo> peers_;
  int closed_ = 0;
};

using tmc::testing::Watchdog;

int native(Client& client) { return beast::get_lowest_layer(client).native_handle(); }
int native(TlsSocket& socket) { return socket.lowest_layer().native_handle(); }

ssl::context client_tls(int max_version = 0, bool with_certificate = false) {
  ssl::context context{ssl::context::tls_client};
  context.set_verify_mode(ssl::verify_none);
  if (max_version != 0) {
    SSL_CTX_set_security_level(context.native_handle(), 0);  // let the client offer old versions
    SSL_CTX_set_min_proto_version(context.native_handle(), 0);
    SSL_CTX_set_max_proto_version(context.native_handle(), max_version);
  }
  if (with_certificate) {
    context.use_certificate_chain_file(Certificates::get().client_cert.string());
    context.use_private_key_file(Certificates::get().client_key.string(), ssl::context::pem);
  }
  return context;
}

// Reads until the connection ends; the close code the server sent (0 if none).
std::uint16_t read_close_code(Client& client, int* messages = nullptr) {
  Watchdog watchdog(native(client), event_deadline);
  beast::flat_buffer buffer;
  beast::error_code ec;
  while (!ec) {
    client.read(buffer, ec);
    if (!ec && messages != nullptr) ++*messages;
    buffer.clear();
  }
  return client.reason().code;
}

class NetServer : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.listen_address = "127.0.0.1";
    options_.listen_port = 0;
    options_.tls.certificate_chain_file = Certificates::get().server_cert.string();
    options_.tls.private_key_file = Certificates::get().server_key.string();
  }

  void TearDown() override {
    if (server_) {
      stop_and_wait();
      server_.reset();
    }
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
  }

  void start() {
    server_ = std::make_unique<Server>(io_, options_, handler_);
    port_ = server_->start();
    io_thread_ = std::thread([this] { io_.run(); });
  }

  bool stop_and_wait() {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    server_->stop([done] { done->set_value(); });
    return finished.wait_for(event_deadline) == std::future_status::ready;
  }

  void connect_tls(TlsSocket& socket, beast::error_code& ec) {
    socket.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), port_});
    Watchdog watchdog(native(socket), event_deadline);
    socket.handshake(ssl::stream_base::client, ec);
  }

  // Opens /v1/ws offering subprotocol (none when empty); the upgrade response is in response.
  std::unique_ptr<Client> connect_ws(beast::error_code& ec, websocket::response_type& response,
                                     const std::string& subprotocol = "telemed.v1") {
    auto client = std::make_unique<Client>(client_io_, client_tls_);
    connect_tls(client->next_layer(), ec);
    if (ec) return client;
    client->set_option(websocket::stream_base::decorator([subprotocol](auto& request) {
      if (!subprotocol.empty()) request.set(http::field::sec_websocket_protocol, subprotocol);
    }));
    Watchdog watchdog(native(*client), event_deadline);
    client->handshake(response, "localhost", "/v1/ws", ec);
    client->binary(true);
    return client;
  }

  // A WebSocket session that counts the pongs it receives in pongs.
  std::unique_ptr<Client> connect_counting_pongs(int& pongs) {
    auto client = connect_ws();
    client->control_callback([&pongs](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) ++pongs;
    });
    return client;
  }

  std::unique_ptr<Client> connect_ws() {
    beast::error_code ec;
    websocket::response_type response;
    auto client = connect_ws(ec, response);
    EXPECT_FALSE(ec) << ec.message();
    return client;
  }

  http::response<http::string_body> get(const std::string& target) {
    TlsSocket socket(client_io_, client_tls_);
    beast::error_code ec;
    connect_tls(socket, ec);
    EXPECT_FALSE(ec) << ec.message();
    Watchdog watchdog(native(socket), event_deadline);
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "localhost");
    http::write(socket, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    return response;
  }

  std::string echo(Client& client, const std::string& payload) {
    Watchdog watchdog(native(client), event_deadline);
    client.write(asio::buffer(payload));
    beast::flat_buffer buffer;
    client.read(buffer);
    return beast::buffers_to_string(buffer.data());
  }

  ServerOptions options_;
  std::shared_ptr<FakeHandler> handler_ = std::make_shared<FakeHandler>();
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread io_thread_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  asio::io_context client_io_;
  ssl::context client_tls_ = client_tls();
};

TEST_F(NetServer, AnswersHealthMetricsAndNotFound) {
  start();
  const auto health = get("/healthz");
  EXPECT_EQ(health.result_int(), 200u);
  EXPECT_EQ(health.body(), "ok\n");
  EXPECT_EQ(get("/readyz").result_int(), 200u);
  const auto metrics = get("/metrics");
  EXPECT_EQ(metrics.result_int(), 200u);
  EXPECT_EQ(metrics[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(metrics.body(), "tmc_sessions 0\n");
  EXPECT_EQ(get("/nothing-here").result_int(), 404u);
}

TEST_F(NetServer, EchoesBinaryMessagesOverTheSubprotocol) {
  start();
  beast::error_code ec;
  websocket::response_type response;
  auto client = connect_ws(ec, response);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(response[http::field::sec_websocket_protocol], "telemed.v1");
  EXPECT_EQ(echo(*client, "hello"), "hello");
  const std::string binary("\x00\x01\xff", 3);
  EXPECT_EQ(echo(*client, binary), binary);
  EXPECT_TRUE(client->got_binary());
  const auto peers = handler_->peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].remote_address.rfind("127.0.0.1:", 0), 0u);
  EXPECT_TRUE(peers[0].client_cert_organization.empty());
  client->close(websocket::close_code::normal);
  EXPECT_TRUE(handler_->wait_closed(1));
}

TEST_F(NetServer, EchoesLargeAndManyMessagesIntact) {
  options_.max_frame_bytes = 4 * 1024 * 1024;
  start();
  auto client = connect_ws();
  // Larger than the socket buffers: the server's TLS reads and writes wait for the socket.
  std::string large(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>((i * 131) % 251);
  EXPECT_TRUE(echo(*client, large) == large);
  // Many at once: reads and writes of the same connection in flight together, answered in order.
  Watchdog watchdog(native(*client), event_deadline);
  for (int i = 0; i < 300; ++i) client->write(asio::buffer("m" + std::to_string(i)));
  beast::flat_buffer buffer;
  for (int i = 0; i < 300; ++i) {
    client->read(buffer);
    ASSERT_EQ(beast::buffers_to_string(buffer.data()), "m" + std::to_string(i));
    buffer.clear();
  }
}

TEST_F(NetServer, BurstsOfSmallAndLargeFramesWithPingsBetweenThemArriveInOrder) {
  options_.max_frame_bytes = 4 * 1024 * 1024;
  start();
  int pongs = 0;
  auto client = connect_counting_pongs(pongs);
  // Echoes queue up behind each other: small ones leave held together, a large one (more than
  // a held frame may be) first sends what is held; the pongs come between them.
  auto message = [](int i) {
    return i % 7 == 0 ? std::string(20000 + i, static_cast<char>('a' + i % 26))
                      : "m" + std::to_string(i);
  };
  Watchdog watchdog(native(*client), event_deadline);
  constexpr int count = 240;
  for (int i = 0; i < count; ++i) {
    client->write(asio::buffer(message(i)));
    if (i % 10 == 0) client->ping({});
  }
  beast::flat_buffer buffer;
  for (int i = 0; i < count; ++i) {
    client->read(buffer);
    ASSERT_EQ(beast::buffers_to_string(buffer.data()), message(i)) << i;
    buffer.clear();
  }
  // Every ping was answered before the echo of the message written after it.
  EXPECT_EQ(pongs, count / 10);
}

// Queued small frames are framed by the server and written to TLS together (several frames in
// one record): every length form of the WebSocket header (7-bit, 16-bit) and the sizes around
// the held-frame bound arrive intact, in order, with pongs between whole frames.
TEST_F(NetServer, BurstsOfFramesAtEveryHeaderLengthArriveIntactWithPongsBetween) {
  options_.max_frame_bytes = 4 * 1024 * 1024;
  start();
  int pongs = 0;
  auto client = connect_counting_pongs(pongs);
  const std::vector<std::size_t> sizes = {1,    2,    125,   126,   127,   200,  1000,
                                          4000, 8190, 16380, 16383, 16384, 16385, 70000};
  auto message = [&](int i) {
    std::string text(sizes[static_cast<std::size_t>(i) % sizes.size()], '\0');
    for (std::size_t k = 0; k < text.size(); ++k) text[k] = static_cast<char>((k * 7 + i) % 251);
    if (!text.empty()) text[0] = static_cast<char>('A' + i % 26);  // never the "bad" command
    return text;
  };
  Watchdog watchdog(native(*client), event_deadline);
  constexpr int count = 280;
  int pings = 0;
  for (int i = 0; i < count; ++i) {
    client->write(asio::buffer(message(i)));
    if (i % 9 == 0 && i + 1 < count) {  // each answered before a later message's echo
      client->ping({});
      ++pings;
    }
  }
  beast::flat_buffer buffer;
  for (int i = 0; i < count; ++i) {
    client->read(buffer);
    ASSERT_EQ(beast::buffers_to_string(buffer.data()), message(i)) << i;
    buffer.clear();
  }
  EXPECT_EQ(pongs, pings);
}

// Frames one handler queues back to back (the api's event to a sender's own session and the
// response after it) leave in one TLS record: the session's writer starts after that handler,
// not inside its first send with only the first frame queued.
TEST_F(NetServer, FramesQueuedTogetherLeaveInOneTlsRecord) {
  start();
  auto client = connect_ws();
  EXPECT_EQ(echo(*client, "warm"), "warm");  // whatever the handshake left to read is read
  int records = 0;
  SSL* ssl = client->next_layer().native_handle();
  SSL_set_msg_callback_arg(ssl, &records);
  SSL_set_msg_callback(ssl, [](int write_p, int, int content_type, const void*, std::size_t,
                               SSL*, void* arg) {
    if (write_p == 0 && content_type == SSL3_RT_HEADER) ++*static_cast<int*>(arg);
  });
  Watchdog watchdog(native(*client), event_deadline);
  client->write(asio::buffer(std::string("pair")));
  beast::flat_buffer buffer;
  for (const char* expected : {"first", "second"}) {
    client->read(buffer);
    EXPECT_EQ(beast::buffers_to_string(buffer.data()), expected);
    buffer.clear();
  }
  EXPECT_EQ(records, 1);
}

TEST_F(NetServer, APeerThatResetsWhileBeingWrittenToEndsOnlyItsOwnSession) {
  start();
  {
    auto client = connect_ws();
    // 3.2 MB each, more than the socket buffers hold: the server is still writing below.
    for (int i = 0; i < 4; ++i) client->write(asio::buffer(std::string("flood")));
    auto& socket = client->next_layer().next_layer();
    socket.set_option(tcp::socket::linger(true, 0));
    socket.close();  // RST: the server's next sends fail (and must not raise SIGPIPE)
  }
  EXPECT_TRUE(handler_->wait_closed(1));
  auto other = connect_ws();
  EXPECT_EQ(echo(*other, "still here"), "still here");
}

TEST_F(NetServer, RefusesUpgradeWithoutTheSubprotocol) {
  start();
  for (const std::string offered : {"", "chat", "telemed.v2"}) {
    beast::error_code ec;
    websocket::response_type response;
    connect_ws(ec, response, offered);
    EXPECT_EQ(ec, websocket::error::upgrade_declined) << offered;
    EXPECT_EQ(response.result_int(), 400u) << offered;
  }
  EXPECT_TRUE(handler_->peers().empty());
}

TEST_F(NetServer, RefusesAnOriginNotAllowed) {
  options_.allowed_origins = {"https://clinic.example"};
  start();
  auto client = std::make_unique<Client>(client_io_, client_tls_);
  beast::error_code ec;
  connect_tls(client->next_layer(), ec);
  ASSERT_FALSE(ec);
  client->set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
    request.set(http::field::sec_websocket_protocol, "telemed.v1");
    request.set(http::field::origin, "https://evil.example");
  }));
  websocket::response_type response;
  client->handshake(response, "localhost", "/v1/ws", ec);
  EXPECT_EQ(response.result_int(), 403u);
}

TEST_F(NetServer, ClosesTextFramesWith1003) {
  start();
  auto client = connect_ws();
  client->text(true);
  client->write(asio::buffer(std::string("hi")));
  EXPECT_EQ(read_close_code(*client), 1003);
  EXPECT_TRUE(handler_->wait_closed(1));
}

TEST_F(NetServer, ClosesOversizedMessagesWith1009) {
  options_.max_frame_bytes = 1024;
  start();
  auto client = connect_ws();
  EXPECT_EQ(echo(*client, std::string(1024, 'a')), std::string(1024, 'a'));
  client->write(asio::buffer(std::string(1025, 'a')));
  EXPECT_EQ(read_close_code(*client), 1009);
  EXPECT_TRUE(handler_->wait_closed(1));
}

TEST_F(NetServer, ApiCloseSends1002AndOtherSessionsGoOn) {
  start();
  auto bad = connect_ws();
  auto good = connect_ws();
  bad->write(asio::buffer(std::string("bad")));
  EXPECT_EQ(read_close_code(*bad), 1002);
  EXPECT_TRUE(handler_->wait_closed(1));
  EXPECT_EQ(echo(*good, "still here"), "still here");
}

TEST_F(NetServer, NegotiatesTls13AndRefusesTls11) {
  start();
  {
    TlsSocket socket(client_io_, client_tls_);
    beast::error_code ec;
    connect_tls(socket, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(SSL_version(socket.native_handle()), TLS1_3_VERSION);
  }
  {
    ssl::context tls12 = client_tls(TLS1_2_VERSION);
    TlsSocket socket(client_io_, tls12);
    beast::error_code ec;
    connect_tls(socket, ec);
    EXPECT_FALSE(ec) << ec.message();
  }
  ssl::context tls11 = client_tls(TLS1_1_VERSION);
  TlsSocket socket(client_io_, tls11);
  beast::error_code ec;
  connect_tls(socket, ec);
  EXPECT_TRUE(ec);
}

// A TLS 1.3 handshake leaves the client one session ticket (OpenSSL's default of two cost the
// server a second ticket's encryption and send on every connection), and it resumes the next.
TEST_F(NetServer, GivesOneSessionTicketThatResumesTheNextConnection) {
  start();
  static std::vector<SSL_SESSION*> tickets;  // the callback has no user pointer of its own
  tickets.clear();
  ssl::context resuming = client_tls();
  SSL_CTX_set_session_cache_mode(resuming.native_handle(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(resuming.native_handle(), [](SSL*, SSL_SESSION* session) {
    tickets.push_back(session);  // kept: the callback's reference is ours now
    return 1;
  });
  {
    Client client(client_io_, resuming);
    beast::error_code ec;
    connect_tls(client.next_layer(), ec);
    ASSERT_FALSE(ec) << ec.message();
    Watchdog watchdog(native(client), event_deadline);
    client.set_option(websocket::stream_base::decorator(
        [](auto& request) { request.set(http::field::sec_websocket_protocol, "telemed.v1"); }));
    client.handshake("localhost", "/v1/ws", ec);
    ASSERT_FALSE(ec) << ec.message();
    client.binary(true);
    EXPECT_EQ(echo(client, "tickets arrive before this answer"),
              "tickets arrive before this answer");
    client.close(websocket::close_code::normal, ec);  // a session cut off is not resumed
    EXPECT_FALSE(ec) << ec.message();
  }
  EXPECT_EQ(tickets.size(), 1u);
  ASSERT_FALSE(tickets.empty());
  TlsSocket socket(client_io_, resuming);
  ASSERT_EQ(SSL_set_session(socket.native_handle(), tickets.front()), 1);
  beast::error_code ec;
  connect_tls(socket, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(SSL_session_reused(socket.native_handle()), 1);
  for (SSL_SESSION* ticket : tickets) SSL_SESSION_free(ticket);
  tickets.clear();
}

TEST_F(NetServer, DropsAClientThatStallsBeforeTheUpgrade) {
  options_.handshake_timeout = 500ms;
  start();
  TlsSocket socket(client_io_, client_tls_);
  beast::error_code ec;
  connect_tls(socket, ec);
  ASSERT_FALSE(ec);
  const auto started = std::chrono::steady_clock::now();
  asio::write(socket, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: loc")));
  Watchdog watchdog(native(socket), event_deadline);
  char byte = 0;
  socket.read_some(asio::buffer(&byte, 1), ec);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(ec);
  EXPECT_FALSE(watchdog.fired());
  EXPECT_LT(waited, 5s);
}

TEST_F(NetServer, CountsStalledHandshakesAndRequestsAsTimeouts) {
  options_.handshake_timeout = 300ms;
  start();
  // One peer never starts TLS; another completes TLS but never finishes its request.
  tcp::socket silent(client_io_);
  silent.connect({asio::ip::make_address("127.0.0.1"), port_});
  TlsSocket stalled(client_io_, client_tls_);
  beast::error_code ec;
  connect_tls(stalled, ec);
  ASSERT_FALSE(ec) << ec.message();
  asio::write(stalled, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: loc")));
  char byte = 0;
  {
    Watchdog watchdog(silent.native_handle(), event_deadline);
    silent.read_some(asio::buffer(&byte, 1), ec);
    EXPECT_TRUE(ec);
    EXPECT_FALSE(watchdog.fired());
  }
  {
    Watchdog watchdog(native(stalled), event_deadline);
    stalled.read_some(asio::buffer(&byte, 1), ec);
    EXPECT_TRUE(ec);
    EXPECT_FALSE(watchdog.fired());
  }
  ASSERT_TRUE(stop_and_wait());  // every session has finished and counted
  const auto& failures = server_->counters().handshake_failures;
  EXPECT_EQ(failures[static_cast<int>(HandshakeFailure::timeout)], 2u);
  EXPECT_EQ(failures[static_cast<int>(HandshakeFailure::tls)], 0u);
  EXPECT_EQ(failures[static_cast<int>(HandshakeFailure::http)], 0u);
}

TEST_F(NetServer, StopClosesLiveSessionsWith1001) {
  start();
  auto first = connect_ws();
  auto second = connect_ws();
  ASSERT_EQ(echo(*first, "a"), "a");
  ASSERT_EQ(echo(*second, "b"), "b");
  EXPECT_EQ(server_->live_sessions(), 2u);
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  server_->stop([done] { done->set_value(); });
  EXPECT_EQ(read_close_code(*first), 1001);
  EXPECT_EQ(read_close_code(*second), 1001);
  EXPECT_EQ(finished.wait_for(event_deadline), std::future_status::ready);
  EXPECT_EQ(server_->live_sessions(), 0u);
  EXPECT_TRUE(handler_->wait_closed(2));
}

TEST_F(NetServer, ClosesASlowConsumerWith1013) {
  options_.outbound_queue_limit_bytes = 64 * 1024;
  options_.close_timeout = 500ms;
  start();
  auto client = connect_ws();
  client->write(asio::buffer(std::string("flood")));
  // The client reads nothing until the server has given up on it.
  EXPECT_TRUE(handler_->wait_closed(1));
  int messages = 0;
  EXPECT_EQ(read_close_code(*client, &messages), 1013);
  EXPECT_LT(messages, 200);
}

TEST_F(NetServer, BindsAVerifiedClientCertificateToItsOrganisation) {
  options_.tls.client_ca_file = Certificates::get().ca_cert.string();
  options_.tls.require_client_certificate = true;
  start();
  {
    TlsSocket anonymous(client_io_, client_tls_);
    beast::error_code ec;
    connect_tls(anonymous, ec);
    if (!ec) {  // with TLS 1.3 the refusal may only show on the first read
      Watchdog watchdog(native(anonymous), event_deadline);
      char byte = 0;
      anonymous.read_some(asio::buffer(&byte, 1), ec);
    }
    EXPECT_TRUE(ec);
  }
  client_tls_ = client_tls(0, true);
  auto client = connect_ws();
  ASSERT_EQ(echo(*client, "hi"), "hi");
  const auto peers = handler_->peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].client_cert_organization, "org-42");
}

// A peer that stops reading while a flush of the server's records is under way, and keeps
// pinging: every pong Beast writes is kept behind the flush. Past a limit such a write waits for
// the socket instead (and Beast reads no more from the peer), so the peer cannot make the
// server keep more and more, before or after signing in.
TEST(TlsStreamBehindAFlush, WritesWaitForTheSocketOnceTheLimitIsKept) {
  asio::io_context io;
  ssl::context server_tls{ssl::context::tls_server};
  server_tls.use_certificate_chain_file(Certificates::get().server_cert.string());
  server_tls.use_private_key_file(Certificates::get().server_key.string(), ssl::context::pem);
  auto client_context = client_tls();
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  tcp::socket client_socket(io);
  client_socket.open(tcp::v4());
  client_socket.set_option(asio::socket_base::receive_buffer_size(4096));
  client_socket.connect(acceptor.local_endpoint());
  TlsStream server(acceptor.accept(), server_tls);
  TlsSocket client(std::move(client_socket), client_context);
  beast::error_code server_ec, client_ec;
  server.async_handshake([&](beast::error_code ec, std::size_t) { server_ec = ec; });
  client.async_handshake(ssl::stream_base::client, [&](beast::error_code ec) { client_ec = ec; });
  io.run();
  // Runs what is ready (a context that ran out of work is stopped until restarted).
  const auto poll = [&io] {
    io.restart();
    io.poll();
  };
  ASSERT_FALSE(server_ec) << server_ec.message();
  ASSERT_FALSE(client_ec) << client_ec.message();

  // 16 MiB of records held, then flushed to a peer that reads nothing: the flush cannot end.
  server.hold_output();
  const std::string held(16u << 20, 'x');
  auto written = std::make_shared<std::size_t>(0);
  asio::async_write(server, asio::buffer(held),
                    [written](beast::error_code, std::size_t n) { *written = n; });
  poll();
  ASSERT_EQ(*written, held.size());
  auto flushed = std::make_shared<bool>(false);
  server.async_flush([flushed](beast::error_code, std::size_t) { *flushed = true; });
  poll();
  ASSERT_FALSE(*flushed);
  ASSERT_GT(server.held_bytes(), 0u);

  // Pong-sized writes meanwhile: kept at once up to the limit, then one waits for the socket.
  const std::string pong(131, 'p');
  auto completed = std::make_shared<std::size_t>(0);
  for (int i = 0; i < 4000 && !server.write_waiting(); ++i) {
    server.async_write_some(asio::buffer(pong),
                            [completed](beast::error_code, std::size_t) { ++*completed; });
    poll();
  }
  EXPECT_TRUE(server.write_waiting());
  EXPECT_LE(*completed * pong.size(), TlsStream::behind_flush_limit);
  EXPECT_GT(*completed, 0u);  // a pong or two still goes behind the flush, in order
}

TEST(NetServerOptions, RejectsAMissingCertificate) {
  asio::io_context io;
  ServerOptions options;
  options.tls.certificate_chain_file = "/nonexistent/cert.pem";
  options.tls.private_key_file = "/nonexistent/key.pem";
  EXPECT_THROW(Server(io, options, std::make_shared<FakeHandler>()), std::runtime_error);
}

TEST_F(NetServer, APortAlreadyInUseIsRefusedWithTheReason) {
  start();
  asio::io_context other_io;
  auto options = options_;
  options.listen_port = port_;
  Server second(other_io, options, handler_);
  try {
    second.start();
    FAIL() << "a second server listened on the same port";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("127.0.0.1:" + std::to_string(port_)), std::string::npos) << message;
    EXPECT_NE(message.find(boost::system::error_code(asio::error::address_in_use).message()),
              std::string::npos)
        << message;
  }
}

TEST(NetServerOptions, RejectsAnInvalidAddress) {
  asio::io_context io;
  ServerOptions options;
  options.listen_address = "not-an-address";
  options.tls.certificate_chain_file = Certificates::get().server_cert.string();
  options.tls.private_key_file = Certificates::get().server_key.string();
  EXPECT_THROW(Server(io, options, std::make_shared<FakeHandler>()), std::runtime_error);
}

}  // namespace
}  // namespace tmc::net

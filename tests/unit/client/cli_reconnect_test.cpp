// tmc-client's reconnects against a scripted server: what it does when resuming the session is
// answered UNAVAILABLE, which a real server answers only while its database is away.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/app.hpp"
#include "cli/token_file.hpp"
#include "telemed/v1/frames.pb.h"
#include "test_server.hpp"

namespace tmc::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace v1 = telemed::v1;
using asio::ip::tcp;

// A loopback telemed server (TLS with the dev certificate, WebSocket with the telemed.v1
// subprotocol) that serves one connection at a time and answers each request as its script
// says: script(connection, frame), connections counted from 0, gives the response, or nothing
// to drop the connection there without a word (as a lost link does).
class ScriptedServer {
 public:
  using Script = std::function<std::optional<v1::Response>(int, const v1::ClientFrame&)>;

  explicit ScriptedServer(Script script) : script_(std::move(script)) {
    tls_.use_certificate_chain_file(testing::dev_certs_dir() + "/server.crt");
    tls_.use_private_key_file(testing::dev_certs_dir() + "/server.key", asio::ssl::context::pem);
    asio::co_spawn(io_, serve(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ScriptedServer() {
    io_.stop();
    thread_.join();
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }
  int connections() const { return connections_.load(); }

 private:
  asio::awaitable<void> serve() {
    for (int index = 0;; ++index) {
      tcp::socket socket = co_await acceptor_.async_accept(asio::use_awaitable);
      connections_ = index + 1;
      try {
        co_await converse(index, std::move(socket));
      } catch (const boost::system::system_error&) {
        // The client closed the connection: take the next one.
      }
    }
  }

  asio::awaitable<void> converse(int index, tcp::socket socket) {
    websocket::stream<asio::ssl::stream<tcp::socket>> ws(std::move(socket), tls_);
    co_await ws.next_layer().async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
    ws.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(beast::http::field::sec_websocket_protocol, "telemed.v1");
    }));
    co_await ws.async_accept(asio::use_awaitable);
    ws.binary(true);
    for (;;) {
      beast::flat_buffer buffer;
      co_await ws.async_read(buffer, asio::use_awaitable);
      v1::ClientFrame frame;
      if (!frame.ParseFromString(beast::buffers_to_string(buffer.data()))) co_return;
      std::optional<v1::Response> answer = script_(index, frame);
      if (!answer) co_return;  // the stream and its socket close here, without a close frame
      answer->set_request_id(frame.request_id());
      v1::ServerFrame reply;
      *reply.mutable_response() = std::move(*answer);
      co_await ws.async_write(asio::buffer(reply.SerializeAsString()), asio::use_awaitable);
    }
  }

  Script script_;
  asio::ssl::context tls_{asio::ssl::context::tls_server};  // outlives the streams in io_'s frames
  asio::io_context io_;
  tcp::acceptor acceptor_{io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

v1::Response answer(v1::Code code, std::string message = {}) {
  v1::Response response;
  response.mutable_status()->set_code(code);
  response.mutable_status()->set_message(std::move(message));
  return response;
}

// The answers to resume: a refusal with `refusal` on connection refused_on, a signed-in user
// otherwise.
v1::Response resumed(int connection, int refused_on, v1::Code refusal = v1::UNAVAILABLE) {
  if (connection == refused_on) {
    return answer(refusal, refusal == v1::UNAVAILABLE ? "storage unavailable; retry" : "refused");
  }
  v1::Response response = answer(v1::OK);
  auto& login = *response.mutable_login();
  login.set_session_token("token-of-the-test");
  login.mutable_user()->set_id("user-1");
  login.mutable_user()->set_display_name("Dr. Test");
  return response;
}

std::string sha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr), 1);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

struct Outcome {
  int exit_code;
  std::string out;
  std::string err;
};

// tmc-client against server, signed in with a stored token, with input on standard input.
class CliAgainstScript : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(write_token(token_file(), "token-of-the-test"));
  }

  std::string token_file() const { return (dir_.path() / "user.token").string(); }

  Outcome run_cli(const ScriptedServer& server, std::vector<std::string> arguments,
                  const std::string& input = {}) {
    std::vector<std::string> line = {"--server", "localhost:" + server.port(), "--ca",
                                     testing::dev_ca_file(), "--token-file", token_file()};
    line.insert(line.end(), arguments.begin(), arguments.end());
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    const int code =
        run(line, in, out, err, [](std::string_view) { return std::optional<std::string>(); });
    return {code, out.str(), err.str()};
  }

  testing::TempDir dir_;
};

// A server with one case file whose first connection drops under the first read, and whose
// answer to the resume on the second connection is refusal.
ScriptedServer::Script download_script(const std::string& contents, const v1::CaseFile& file,
                                       v1::Code refusal) {
  return [&contents, &file, refusal](int connection,
                                     const v1::ClientFrame& frame) -> std::optional<v1::Response> {
    if (frame.has_resume()) return resumed(connection, 1, refusal);
    if (frame.has_list_case_files()) {
      v1::Response response = answer(v1::OK);
      *response.mutable_list_case_files()->add_files() = file;
      return response;
    }
    if (frame.has_read_file()) {
      if (connection == 0) return std::nullopt;  // the link drops under the first read
      const auto& read = frame.read_file();
      v1::Response response = answer(v1::OK);
      auto& chunk = *response.mutable_file_chunk();
      chunk.set_file_id(file.id());
      chunk.set_offset(read.offset());
      chunk.set_data(contents.substr(read.offset(), read.length()));
      chunk.set_eof(read.offset() + read.length() >= contents.size());
      return response;
    }
    return answer(v1::INVALID_ARGUMENT, "not in this test's script");
  };
}

class DownloadAgainstScript : public CliAgainstScript {
 protected:
  DownloadAgainstScript() {
    file_.set_id("file-1");
    file_.set_file_name("knee.dcm");
    file_.set_size(contents_.size());
    file_.set_sha256(sha256(contents_));
  }

  Outcome download(const ScriptedServer& server) {
    return run_cli(server, {"file", "download", "file-1", "--consultation", "c-1", "--output",
                            output_.string()});
  }

  const std::string contents_ = std::string(300 * 1024, 'r');
  v1::CaseFile file_;
  std::filesystem::path output_ = dir_.path() / "knee.dcm";
};

// A download whose connection drops goes on once the server can resume the session again,
// even when its first answer to the resume is UNAVAILABLE.
TEST_F(DownloadAgainstScript, GoesOnWhenTheResumeIsAnsweredUnavailable) {
  ScriptedServer server(download_script(contents_, file_, v1::UNAVAILABLE));
  const auto outcome = download(server);

  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(server.connections(), 3) << "dropped, refused the resume, then carried the rest";
  std::ifstream saved(output_, std::ios::binary);
  const std::string got((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(got == contents_) << "downloaded " << got.size() << " bytes";
  EXPECT_NE(outcome.out.find("SHA-256 verified"), std::string::npos) << outcome.out;
}

// A session the server no longer resumes (revoked, expired) ends the download at once.
TEST_F(DownloadAgainstScript, EndsWhenTheResumeIsRefused) {
  ScriptedServer server(download_script(contents_, file_, v1::UNAUTHENTICATED));
  const auto outcome = download(server);

  EXPECT_EQ(outcome.exit_code, 1) << outcome.err;
  EXPECT_NE(outcome.err.find("error: UNAUTHENTICATED"), std::string::npos) << outcome.err;
  EXPECT_EQ(server.connections(), 2) << "no reconnect after the refusal";
  EXPECT_FALSE(std::filesystem::exists(output_));
}

// A chat whose connection drops reconnects until the server can resume the session: an
// UNAVAILABLE answer to the resume does not end it.
TEST_F(CliAgainstScript, ChatReconnectsWhenTheResumeIsAnsweredUnavailable) {
  std::atomic<int> syncs{0};
  ScriptedServer server([&](int connection, const v1::ClientFrame& frame)
                            -> std::optional<v1::Response> {
    if (frame.has_resume()) return resumed(connection, 1);
    if (frame.has_get_consultation()) {
      v1::Response response = answer(v1::OK);
      response.mutable_consultation()->set_id(frame.get_consultation().consultation_id());
      response.mutable_consultation()->set_state(v1::CONSULTATION_STATE_ACCEPTED);
      return response;
    }
    if (frame.has_list_specialists()) return answer(v1::OK);
    if (frame.has_sync_consultation()) {
      if (connection == 0) return std::nullopt;  // the link drops under the first catch-up
      ++syncs;
      v1::Response response = answer(v1::OK);
      response.mutable_sync_consultation();
      return response;
    }
    return answer(v1::INVALID_ARGUMENT, "not in this test's script");
  });

  const auto outcome = run_cli(server, {"consult", "chat", "c-1"}, "/quit\n");

  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(server.connections(), 3) << "dropped, refused the resume, then caught up";
  EXPECT_EQ(syncs, 1) << "caught up once, on the connection that resumed";
  EXPECT_NE(outcome.err.find("server unavailable (UNAVAILABLE"), std::string::npos)
      << outcome.err;
  EXPECT_NE(outcome.err.find("reconnected; resuming after #0"), std::string::npos) << outcome.err;
}

}  // namespace
}  // namespace tmc::cli

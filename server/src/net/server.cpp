// The TLS/WebSocket server: the accept loop, shutdown and the session registry it drives.
#include "net/server.hpp"

#include <stdexcept>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "domain/rate_limiter.hpp"
#include "net/session.hpp"
#include "net/tls_context.hpp"

namespace tmc::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Back-off after an accept error such as EMFILE, so the loop does not spin.
constexpr std::chrono::milliseconds accept_retry_delay{100};
constexpr std::chrono::seconds stop_grace_margin{1};

asio::ip::address parse_address(const std::string& text) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(text, ec);
  if (ec) throw std::runtime_error("invalid listen address '" + text + "': " + ec.message());
  return address;
}

}  // namespace

// Everything the accept loop touches lives here, on strand_; kept alive by pending operations.
class Server::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, ServerOptions options, std::shared_ptr<api::Handler> handler)
      : io_(io),
        strand_(asio::make_strand(io)),
        address_(parse_address(options.listen_address)),
        acceptor_(strand_),
        grace_timer_(strand_) {
    if (!handler) throw std::runtime_error("net::Server needs an api handler");
    auto tls = make_server_tls_context(options.tls);
    admission_ = std::make_shared<domain::AddressAdmission>(domain::AddressLimits{
        options.max_connections_per_address, options.new_connections_per_second_per_address,
        2 * options.new_connections_per_second_per_address});
    context_ = std::make_shared<SessionContext>(std::move(options), std::move(tls),
                                                std::move(handler));
  }

  std::uint16_t start() {
    const tcp::endpoint endpoint{address_, context_->options.listen_port};
    const auto where = context_->options.listen_address + ":" +
                       std::to_string(context_->options.listen_port);
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      boost::system::error_code ignored;  // the reason to report is ec's, not the close's
      acceptor_.close(ignored);
      throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
    }
    const auto port = acceptor_.local_endpoint().port();
    spdlog::info("net: listening on {}:{}", context_->options.listen_address, port);
    asio::co_spawn(strand_, accept_loop(shared_from_this()), asio::detached);
    return port;
  }

  void stop(std::function<void()> done) {
    asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
      self->stop_on_strand(std::move(done));
    });
  }

  void close_acceptor() {
    asio::post(strand_, [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

  std::size_t live_sessions() const { return context_->registry.size(); }
  const NetCounters& counters() const { return context_->counters; }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    for (;;) {
      const asio::any_io_executor session_executor =
          self->context_->options.single_io_thread
              ? asio::any_io_executor(self->io_.get_executor())
              : asio::any_io_executor(asio::make_strand(self->io_));
      auto [ec, socket] = co_await self->acceptor_.async_accept(session_executor, use_tuple);
      if (!self->acceptor_.is_open()) break;
      if (ec) {
        spdlog::warn("net: accept failed: {}", ec.message());
        asio::steady_timer delay{self->strand_, accept_retry_delay};
        co_await delay.async_wait(use_tuple);
        continue;
      }
      auto admission = self->admit(socket);
      if (!admission) {
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      start_session(std::move(socket), self->context_, std::move(admission));
    }
    spdlog::info("net: stopped accepting");
  }

  // Per-address limits: the slot to hold while the connection lives, or null when refused.
  std::shared_ptr<void> admit(const tcp::socket& socket) {
    boost::system::error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    if (ec) return nullptr;  // already gone
    const auto address = endpoint.address().to_string();
    auto decision = admission_->admit(address, std::chrono::steady_clock::now());
    if (!decision.ticket) {
      // debug only: a flood would otherwise flood the log too
      spdlog::debug("net: refused a connection from {}: {}", address,
                    decision.refusal == domain::AddressAdmission::Refusal::too_fast
                        ? "new connections too fast"
                        : "too many connections");
    }
    return decision.ticket;
  }

  void stop_on_strand(std::function<void()> done) {
    if (!stopping_) {
      stopping_ = true;
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      spdlog::info("net: stopping; closing {} live connections", live_sessions());
      grace_timer_.expires_after(context_->options.close_timeout + stop_grace_margin);
      grace_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec) return;
        spdlog::warn("net: {} connections still open after the grace period",
                     self->live_sessions());
        self->context_->registry.expire_stop();
      });
    }
    context_->registry.stop([weak = weak_from_this(), done = std::move(done)] {
      if (auto self = weak.lock()) {
        asio::post(self->strand_, [self] { self->grace_timer_.cancel(); });
      }
      if (done) done();
    });
  }

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::ip::address address_;
  tcp::acceptor acceptor_;
  asio::steady_timer grace_timer_;
  std::shared_ptr<SessionContext> context_;
  std::shared_ptr<domain::AddressAdmission> admission_;
  bool stopping_ = false;
};

Server::Server(asio::io_context& io, ServerOptions options, std::shared_ptr<api::Handler> handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

Server::~Server() { impl_->close_acceptor(); }

std::uint16_t Server::start() { return impl_->start(); }

void Server::stop(std::function<void()> done) { impl_->stop(std::move(done)); }

std::size_t Server::live_sessions() const { return impl_->live_sessions(); }

const NetCounters& Server::counters() const { return impl_->counters(); }

}  // namespace tmc::net

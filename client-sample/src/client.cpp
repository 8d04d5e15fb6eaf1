// Asynchronous telemed.v1 client: one read loop, one writer, pending calls matched by request_id.
#include "tmc/client/client.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <optional>
#include <utility>

#include "signal.hpp"
#include "tmc/client/pending_calls.hpp"
#include "transport.hpp"

namespace tmc::client {

namespace asio = boost::asio;
using detail::Signal;

// Close codes the client itself sends when the server breaks the protocol.
constexpr std::uint16_t close_protocol_error = 1002;
constexpr std::uint16_t close_unsupported_data = 1003;

class Client::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor executor, ClientOptions options)
      : executor_(std::move(executor)),
        options_(std::move(options)),
        transport_(executor_, options_),
        closed_(executor_) {}

  asio::awaitable<void> connect() {
    if (state_ != State::idle) {
      throw ClientError(errc::already_connected, "connect() called twice on one client");
    }
    state_ = State::connecting;
    try {
      co_await transport_.connect();
    } catch (...) {
      state_ = State::closed;
      closed_.set();
      throw;
    }
    state_ = State::open;
    asio::co_spawn(executor_, read_loop(shared_from_this()), asio::detached);
  }

  asio::awaitable<telemed::v1::Response> call(telemed::v1::ClientFrame frame) {
    require_open("call");
    // Completion and waiting meet in this object; shared because an abandoned call's completion
    // may outlive this coroutine only until the pending table forgets it.
    struct Waiter {
      explicit Waiter(const asio::any_io_executor& executor) : done(executor) {}
      Signal done;
      std::optional<CallOutcome> outcome;
    };
    auto waiter = std::make_shared<Waiter>(executor_);
    const std::uint64_t id = pending_.start([waiter](CallOutcome outcome) {
      waiter->outcome = std::move(outcome);
      waiter->done.set();
    });
    frame.set_request_id(id);
    enqueue(Outgoing{frame.SerializeAsString(), false, std::nullopt, nullptr});
    try {
      co_await waiter->done.wait();
    } catch (...) {
      pending_.abandon(id);
      throw;
    }
    if (auto* error = std::get_if<std::exception_ptr>(&*waiter->outcome)) {
      std::rethrow_exception(*error);
    }
    co_return std::get<telemed::v1::Response>(std::move(*waiter->outcome));
  }

  asio::awaitable<void> send_raw(std::string bytes, bool text) {
    require_open("send_raw");
    auto written = std::make_shared<Signal>(executor_);
    enqueue(Outgoing{std::move(bytes), text, std::nullopt, written});
    co_await written->wait();
  }

  asio::awaitable<void> close(std::uint16_t code) {
    if (state_ == State::open) {
      state_ = State::closing;
      enqueue(Outgoing{{}, false, code, nullptr});
    } else if (state_ == State::connecting) {
      transport_.abort();  // connect() then fails and sets closed_
    } else if (state_ == State::idle) {
      state_ = State::closed;
      closed_.set();
    }
    co_await closed_.wait();
  }

  // The owner is going away: no more handler calls, and the connection drops.
  void abort() noexcept {
    event_handler_ = nullptr;
    close_handler_ = nullptr;
    transport_.abort();
    if (state_ == State::idle) {
      state_ = State::closed;
      closed_.set();
    }
  }

  bool is_open() const { return state_ == State::open; }

  std::function<void(const telemed::v1::Event&)> event_handler_;
  std::function<void(const CloseInfo&)> close_handler_;

 private:
  enum class State { idle, connecting, open, closing, closed };

  // One queued WebSocket message: data, or a close frame when close_code is set.
  struct Outgoing {
    std::string bytes;
    bool text = false;
    std::optional<std::uint16_t> close_code;
    std::shared_ptr<Signal> written;  // set once written (or once writing is abandoned)
  };

  void require_open(const char* what) const {
    if (state_ != State::open) {
      throw ClientError(errc::not_connected, std::string(what) + ": the connection is not open");
    }
  }

  void enqueue(Outgoing outgoing) {
    outgoing_.push_back(std::move(outgoing));
    if (!writing_) {
      writing_ = true;
      asio::co_spawn(executor_, write_loop(shared_from_this()), asio::detached);
    }
  }

  // The only writer: Beast allows one write (or close) in flight.
  static asio::awaitable<void> write_loop(std::shared_ptr<Impl> self) {
    while (!self->outgoing_.empty() && self->state_ != State::closed) {
      Outgoing next = std::move(self->outgoing_.front());
      self->outgoing_.pop_front();
      const boost::system::error_code ec =
          next.close_code ? co_await self->transport_.close(*next.close_code)
                          : co_await self->transport_.write(next.bytes, next.text);
      if (next.written) next.written->set();
      if (ec) {
        // The read loop notices the dropped link and fails every pending call.
        spdlog::debug("tmc client: write failed: {}", ec.message());
        self->transport_.abort();
        break;
      }
    }
    self->release_unwritten();
    self->writing_ = false;
  }

  void release_unwritten() {
    if (state_ != State::closed) return;
    for (auto& outgoing : outgoing_) {
      if (outgoing.written) outgoing.written->set();
    }
    outgoing_.clear();
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<Impl> self) {
    boost::system::error_code error;
    for (;;) {
      detail::Incoming incoming = co_await self->transport_.read();
      if (incoming.error) {
        error = incoming.error;
        break;
      }
      self->dispatch(incoming);
    }
    self->finish(error);
  }

  void dispatch(const detail::Incoming& incoming) {
    telemed::v1::ServerFrame frame;
    if (incoming.text || !frame.ParseFromString(incoming.payload)) {
      spdlog::warn("tmc client: server sent an undecodable {} frame; closing",
                   incoming.text ? "text" : "binary");
      if (state_ == State::open) {
        state_ = State::closing;
        enqueue(Outgoing{
            {}, false, incoming.text ? close_unsupported_data : close_protocol_error, nullptr});
      }
      return;
    }
    if (frame.has_response()) {
      if (!pending_.complete(std::move(*frame.mutable_response()))) {
        spdlog::debug("tmc client: dropped a response nobody waits for");
      }
    } else if (frame.has_event() && event_handler_) {
      try {
        event_handler_(frame.event());
      } catch (const std::exception& e) {
        spdlog::warn("tmc client: event handler threw: {}", e.what());
      }
    }
  }

  void finish(const boost::system::error_code& error) {
    state_ = State::closed;
    transport_.abort();
    CloseInfo info = transport_.peer_close().value_or(
        CloseInfo{abnormal_closure, "connection lost: " + error.message()});
    std::string description = "connection closed (" + std::to_string(info.code);
    if (!info.reason.empty()) description += " " + info.reason;
    description += ")";
    pending_.fail_all(std::make_exception_ptr(ClientError(errc::connection_closed, description)));
    release_unwritten();
    closed_.set();
    if (close_handler_) {
      try {
        close_handler_(info);
      } catch (const std::exception& e) {
        spdlog::warn("tmc client: close handler threw: {}", e.what());
      }
    }
  }

  asio::any_io_executor executor_;
  ClientOptions options_;
  detail::Transport transport_;
  PendingCalls pending_;
  std::deque<Outgoing> outgoing_;
  bool writing_ = false;
  State state_ = State::idle;
  Signal closed_;
};

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

Client::~Client() { impl_->abort(); }

// Each public coroutine holds a reference to the state, so it outlives the Client if need be.
asio::awaitable<void> Client::connect() {
  auto impl = impl_;
  co_await impl->connect();
}

asio::awaitable<telemed::v1::Response> Client::call(telemed::v1::ClientFrame frame) {
  auto impl = impl_;
  co_return co_await impl->call(std::move(frame));
}

void Client::on_event(std::function<void(const telemed::v1::Event&)> handler) {
  impl_->event_handler_ = std::move(handler);
}

void Client::on_close(std::function<void(const CloseInfo&)> handler) {
  impl_->close_handler_ = std::move(handler);
}

asio::awaitable<void> Client::send_raw(std::string bytes, bool text) {
  auto impl = impl_;
  co_await impl->send_raw(std::move(bytes), text);
}

asio::awaitable<void> Client::close(std::uint16_t code) {
  auto impl = impl_;
  co_await impl->close(code);
}

bool Client::is_open() const { return impl_->is_open(); }

}  // namespace tmc::client

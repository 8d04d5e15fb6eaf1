// Blocking facade over Client for CLIs and tests: owns an io_context and its one thread.
#include "tmc/client/blocking_client.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include "tmc/client/client.hpp"

namespace tmc::client {

namespace asio = boost::asio;
using telemed::v1::ClientFrame;
using telemed::v1::Event;
using telemed::v1::Response;

namespace {

// The oneof field name of a request ("list_organizations"), for readable timeout messages.
std::string request_name(const ClientFrame& frame) {
  const auto* field = ClientFrame::descriptor()->FindFieldByNumber(frame.request_case());
  return field != nullptr ? field->name() : "empty request";
}

// Runs op on the current executor; if it has not finished after timeout, cancels it and throws
// ClientError(errc::timed_out). Unlike awaitable_operators' ||, a failing op fails at once.
template <class T>
asio::awaitable<T> bounded(asio::awaitable<T> op, BlockingClient::Duration timeout,
                           std::string what) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, timeout);
  auto results =
      co_await asio::experimental::make_parallel_group(
          asio::co_spawn(executor, std::move(op), asio::deferred), timer.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::deferred);
  const auto& order = std::get<0>(results);
  if (order[0] == 1) {
    throw ClientError(errc::timed_out, "timed out after " + std::to_string(timeout.count()) +
                                           " ms waiting for " + what);
  }
  if (const std::exception_ptr& error = std::get<1>(results)) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(std::get<2>(results));
}

}  // namespace

class BlockingClient::Impl {
 public:
  explicit Impl(ClientOptions options)
      : options_(std::move(options)),
        work_(asio::make_work_guard(io_)),
        client_(std::make_unique<Client>(io_.get_executor(), options_)) {
    // Handlers are set before the io thread starts, so no synchronisation is needed here.
    client_->on_event([this](const Event& event) {
      {
        std::lock_guard lock(mutex_);
        events_.push_back(event);
      }
      changed_.notify_all();
    });
    client_->on_close([this](const CloseInfo& info) {
      {
        std::lock_guard lock(mutex_);
        close_info_ = info;
        open_ = false;
      }
      changed_.notify_all();
    });
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() {
    if (is_open()) {
      try {
        close(1000);
      } catch (const std::exception&) {
        // The connection is dropped below anyway.
      }
    }
    // The Client is used on the io thread only, so it is destroyed there too.
    asio::post(io_, asio::use_future([this] { client_.reset(); })).get();
    work_.reset();
    thread_.join();
  }

  // Runs op on the io thread and waits for its outcome.
  template <class T>
  T run(asio::awaitable<T> op) {
    return asio::co_spawn(io_, std::move(op), asio::use_future).get();
  }

  void connect() {
    // Client::connect ends by connect_timeout, unless the resolver never answers: this net, at
    // twice that, ends that case too (and names no step).
    run(bounded(client_->connect(), options_.connect_timeout + options_.connect_timeout,
                "the connection to " + options_.host + ":" + options_.port));
    std::lock_guard lock(mutex_);
    open_ = !close_info_.has_value();  // the server may have closed already
  }

  std::future<Response> start_call(ClientFrame frame, Duration timeout) {
    std::string what = "the response to " + request_name(frame);
    return asio::co_spawn(io_, bounded(client_->call(std::move(frame)), timeout, std::move(what)),
                          asio::use_future);
  }

  std::optional<Event> wait_event(const std::function<bool(const Event&)>& match,
                                  Duration timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mutex_);
    std::size_t scanned = 0;  // events before this index did not match
    for (;;) {
      for (; scanned < events_.size(); ++scanned) {
        if (match(events_[scanned])) {
          Event event = std::move(events_[scanned]);
          events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(scanned));
          return event;
        }
      }
      if (close_info_) return std::nullopt;  // nothing more will arrive
      if (changed_.wait_until(lock, deadline) == std::cv_status::timeout &&
          scanned == events_.size()) {
        return std::nullopt;
      }
    }
  }

  std::vector<Event> take_events() {
    std::lock_guard lock(mutex_);
    std::vector<Event> taken(std::make_move_iterator(events_.begin()),
                             std::make_move_iterator(events_.end()));
    events_.clear();
    return taken;
  }

  std::optional<CloseInfo> wait_closed(Duration timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [this] { return close_info_.has_value(); });
    return close_info_;
  }

  bool is_open() const {
    std::lock_guard lock(mutex_);
    return open_;
  }

  void close(std::uint16_t code) {
    run(bounded(client_->close(code), options_.connect_timeout, "the connection to close"));
  }

  Client& client() { return *client_; }
  const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<Client> client_;  // touched on the io thread only, after construction
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // an event arrived or the connection ended
  std::deque<Event> events_;
  std::optional<CloseInfo> close_info_;
  bool open_ = false;
};

BlockingClient::BlockingClient(ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

BlockingClient::~BlockingClient() = default;

void BlockingClient::connect() { impl_->connect(); }

Response BlockingClient::call(ClientFrame frame, Duration timeout) {
  return impl_->start_call(std::move(frame), timeout).get();
}

std::future<Response> BlockingClient::call_async(ClientFrame frame, Duration timeout) {
  return impl_->start_call(std::move(frame), timeout);
}

std::vector<Response> BlockingClient::call_pipelined(std::vector<ClientFrame> frames,
                                                     Duration timeout) {
  // Each call is queued for writing before it waits, and the io thread starts them in the
  // order posted here, so every frame is written before any answer is needed.
  std::vector<std::future<Response>> futures;
  futures.reserve(frames.size());
  for (auto& frame : frames) futures.push_back(impl_->start_call(std::move(frame), timeout));
  std::vector<Response> responses;
  responses.reserve(futures.size());
  for (auto& future : futures) responses.push_back(future.get());
  return responses;
}

std::optional<Event> BlockingClient::next_event(Duration timeout) {
  return impl_->wait_event([](const Event&) { return true; }, timeout);
}

std::optional<Event> BlockingClient::wait_event(const std::function<bool(const Event&)>& match,
                                                Duration timeout) {
  return impl_->wait_event(match, timeout);
}

std::vector<Event> BlockingClient::take_events() { return impl_->take_events(); }

void BlockingClient::send_raw(std::string bytes, bool text) {
  impl_->run(impl_->client().send_raw(std::move(bytes), text));
}

std::optional<CloseInfo> BlockingClient::wait_closed(Duration timeout) {
  return impl_->wait_closed(timeout);
}

bool BlockingClient::is_open() const { return impl_->is_open(); }

void BlockingClient::close(std::uint16_t code) { impl_->close(code); }

Response BlockingClient::login(const std::string& username, const std::string& password,
                               const std::string& totp_code, Duration timeout) {
  ClientFrame frame;
  auto& login = *frame.mutable_login();
  login.set_username(username);
  login.set_password(password);
  login.set_totp_code(totp_code);
  return call(std::move(frame), timeout);
}

Response BlockingClient::resume(const std::string& session_token, Duration timeout) {
  ClientFrame frame;
  frame.mutable_resume()->set_session_token(session_token);
  return call(std::move(frame), timeout);
}

const ClientOptions& BlockingClient::options() const { return impl_->options(); }

}  // namespace tmc::client

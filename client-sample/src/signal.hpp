// A one-shot event for coroutines on one executor: waiters resume once it is set.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "tmc/client/error.hpp"

namespace tmc::client::detail {

// A timer that never expires serves as the condition: set() cancels it, which wakes every
// waiter. Not thread-safe; use it from its executor only.
class Signal {
 public:
  explicit Signal(const boost::asio::any_io_executor& executor)
      : timer_(executor, boost::asio::steady_timer::time_point::max()) {}

  void set() {
    set_ = true;
    timer_.cancel();
  }
  bool is_set() const { return set_; }

  // Resumes when set (at once if it already is). Throws ClientError(errc::cancelled) if the
  // waiting coroutine is cancelled first.
  boost::asio::awaitable<void> wait() {
    if (set_) co_return;
    boost::system::error_code ignored;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    if (!set_) throw ClientError(errc::cancelled, "wait cancelled");
  }

 private:
  boost::asio::steady_timer timer_;
  bool set_ = false;
};

}  // namespace tmc::client::detail

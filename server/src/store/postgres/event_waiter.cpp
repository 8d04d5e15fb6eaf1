// A LISTEN connection polled with a timeout. After any reconnect the waiter reports a wake-up,
// because notifications sent while it was away are gone and the caller must read the log.
#include "store/postgres/event_waiter.hpp"

#include <poll.h>

#include <cerrno>
#include <optional>
#include <string>

namespace tmc::store::postgres {
namespace {

class PostgresEventWaiter final : public EventWaiter {
 public:
  explicit PostgresEventWaiter(ConnectionSettings settings) : settings_(std::move(settings)) {}

  bool wait(std::chrono::milliseconds timeout) override {
    if (!listening_) {
      listen();
      return true;
    }
    pollfd fd{connection_->socket(), POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(timeout.count()));
    if (ready < 0) {
      if (errno == EINTR) return false;
      throw StoreError("postgres listen: poll failed");
    }
    if (ready == 0) return false;
    try {
      return connection_->drain_notifications() > 0;
    } catch (const StoreError&) {
      listening_ = false;
      throw;
    }
  }

 private:
  void listen() {
    if (!connection_) {
      connection_.emplace(settings_);
    } else {
      connection_->ensure_open();
    }
    const auto channel =
        connection_->query(std::string("SELECT ") + event_channel_sql).bytes(0, 0);
    connection_->exec(("LISTEN " + quote_identifier(channel)).c_str());
    listening_ = true;
  }

  ConnectionSettings settings_;
  std::optional<Connection> connection_;
  bool listening_ = false;
};

}  // namespace

std::unique_ptr<EventWaiter> open_event_waiter(const ConnectionSettings& settings) {
  return std::make_unique<PostgresEventWaiter>(settings);
}

}  // namespace tmc::store::postgres

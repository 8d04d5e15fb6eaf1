// A bounded pool of database connections for read transactions, shared by the SQL backends.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace tmc::store {

// Connections are opened on first demand, up to capacity; checkout blocks while all of them are
// in use. Thread-safe. A connection is used by one thread at a time: the holder of its Lease.
template <class Connection>
class ConnectionPool {
 public:
  using Open = std::function<std::unique_ptr<Connection>()>;

  ConnectionPool(int capacity, Open open)
      : capacity_(capacity > 0 ? capacity : 1), open_(std::move(open)) {}

  // Returns the connection to the pool when it goes out of scope.
  class Lease {
   public:
    Lease(ConnectionPool& pool, Connection& connection) : pool_(pool), connection_(connection) {}
    ~Lease() { pool_.give_back(connection_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& connection() { return connection_; }

   private:
    ConnectionPool& pool_;
    Connection& connection_;
  };

  // Throws whatever opening a new connection throws (the pool stays usable).
  Lease checkout() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [this] { return !idle_.empty() || opened_ < capacity_; });
    if (!idle_.empty()) {
      Connection* connection = idle_.back();
      idle_.pop_back();
      return Lease(*this, *connection);
    }
    ++opened_;  // reserved; connecting happens outside the lock
    lock.unlock();
    std::unique_ptr<Connection> connection;
    try {
      connection = open_();
    } catch (...) {
      lock.lock();
      --opened_;
      lock.unlock();
      available_.notify_one();
      throw;
    }
    Connection& opened = *connection;
    lock.lock();
    all_.push_back(std::move(connection));
    return Lease(*this, opened);
  }

 private:
  void give_back(Connection& connection) {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(&connection);
    }
    available_.notify_one();
  }

  const int capacity_;
  const Open open_;
  std::mutex mutex_;
  std::condition_variable available_;
  int opened_ = 0;
  std::vector<std::unique_ptr<Connection>> all_;
  std::vector<Connection*> idle_;
};

}  // namespace tmc::store

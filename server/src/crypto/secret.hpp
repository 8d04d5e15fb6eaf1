// Key material held in memory: wiped when it is destroyed, assigned over or moved from.
#pragma once

#include <openssl/crypto.h>

#include <string>
#include <utility>

namespace tmc::crypto {

// A data key or another secret. Its bytes are overwritten (OPENSSL_cleanse) before its memory is
// given back, so a freed key does not linger in the heap for a core dump or a later read of
// freed memory to find. No implicit conversion: value() names each use of the bytes.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) noexcept : value_(std::move(value)) {}
  Secret(const Secret& other) = default;
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
  Secret& operator=(const Secret& other) {
    if (this != &other) {
      wipe();  // clear() keeps the capacity, so the copy below reuses the wiped bytes
      value_ = other.value_;
    }
    return *this;
  }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      wipe();
      value_ = std::move(other.value_);
      other.wipe();
    }
    return *this;
  }
  ~Secret() { wipe(); }

  const std::string& value() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }
  bool operator==(const Secret& other) const noexcept { return value_ == other.value_; }

  // Overwrites the bytes and leaves the secret empty.
  void wipe() noexcept {
    // Short strings live inside the object: a move copies them and leaves the source's bytes.
    OPENSSL_cleanse(value_.data(), value_.capacity());
    value_.clear();
  }

 private:
  std::string value_;
};

}  // namespace tmc::crypto

// RAND_bytes wrapper and the monotonic id generator.
#include "crypto/random.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "crypto/openssl_error.hpp"

namespace tmc::crypto {

namespace detail {

void throw_openssl_error(std::string_view what) {
  const unsigned long code = ERR_get_error();
  std::string message(what);
  if (code != 0) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    message += ": ";
    message += text.data();
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

void clear_openssl_errors() noexcept { ERR_clear_error(); }

}  // namespace detail

namespace {

constexpr std::string_view crockford_lower = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr int random_id_bits = 80;
constexpr int random_id_chars = random_id_bits / 5;

// 80-bit counter split into a high 16 and a low 64 bit half.
struct RandomPart {
  std::uint16_t high = 0;
  std::uint64_t low = 0;
};

RandomPart fresh_random_part() {
  const std::string bytes = random_bytes(10);
  RandomPart part;
  part.high = static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[0]) << 8) |
                                         static_cast<unsigned char>(bytes[1]));
  for (std::size_t i = 2; i < bytes.size(); ++i) {
    part.low = (part.low << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return part;
}

// State of the last id handed out, so later ids never sort before it.
struct IdState {
  std::mutex mutex;
  std::uint64_t last_ms = 0;
  RandomPart last_random;
};

IdState& id_state() {
  static IdState state;
  return state;
}

std::string encode_random_part(RandomPart part) {
  std::string out(random_id_chars, '0');
  for (int i = random_id_chars - 1; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = crockford_lower[part.low & 0x1Fu];
    part.low = (part.low >> 5) | (static_cast<std::uint64_t>(part.high & 0x1Fu) << 59);
    part.high = static_cast<std::uint16_t>(part.high >> 5);
  }
  return out;
}

}  // namespace

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::size_t done = 0;
  while (done < n) {
    const std::size_t chunk = std::min<std::size_t>(n - done, INT_MAX);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), static_cast<int>(chunk)) !=
        1) {
      detail::throw_openssl_error("RAND_bytes failed");
    }
    done += chunk;
  }
  return out;
}

namespace {

// Bumped in the child of every fork(): a thread's nonce buffer filled under an older value is
// refilled before it is used again (the child's copy of it is also the parent's).
std::atomic<std::uint64_t> fork_generation{0};

struct NonceBuffer {
  static constexpr std::size_t capacity = 4096;
  std::array<unsigned char, capacity> bytes{};
  std::size_t used = capacity;
  std::uint64_t generation = 0;
};

void watch_forks() {
  static const int registered = pthread_atfork(
      nullptr, nullptr, [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
  if (registered != 0) throw std::runtime_error("pthread_atfork failed");
}

}  // namespace

void random_nonce(char* out, std::size_t n) {
  thread_local NonceBuffer buffer;
  if (n > NonceBuffer::capacity / 4) {  // not a nonce: straight from the generator
    const std::string bytes = random_bytes(n);
    std::memcpy(out, bytes.data(), n);
    return;
  }
  watch_forks();
  const auto generation = fork_generation.load(std::memory_order_relaxed);
  if (buffer.used + n > NonceBuffer::capacity || buffer.generation != generation) {
    if (RAND_bytes(buffer.bytes.data(), static_cast<int>(NonceBuffer::capacity)) != 1) {
      detail::throw_openssl_error("RAND_bytes failed");
    }
    buffer.used = 0;
    buffer.generation = generation;
  }
  std::memcpy(out, buffer.bytes.data() + buffer.used, n);
  buffer.used += n;
}

std::string random_id(std::string_view prefix) {
  const auto now_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  RandomPart fresh = fresh_random_part();

  std::uint64_t ms = 0;
  RandomPart part;
  {
    IdState& state = id_state();
    const std::lock_guard lock(state.mutex);
    if (now_ms > state.last_ms) {
      ms = now_ms;
      part = fresh;
    } else {
      // Same millisecond or the clock stepped back: continue after the last id.
      ms = state.last_ms;
      part = state.last_random;
      if (++part.low == 0 && ++part.high == 0) ++ms;  // 80-bit overflow borrows the next ms
    }
    state.last_ms = ms;
    state.last_random = part;
  }

  std::string id;
  id.reserve(prefix.size() + 1 + 12 + random_id_chars);
  id.append(prefix);
  id.push_back('_');
  for (int shift = 44; shift >= 0; shift -= 4) {
    id.push_back(crockford_lower[(ms >> shift) & 0x0Fu]);
  }
  id += encode_random_part(part);
  return id;
}

}  // namespace tmc::crypto

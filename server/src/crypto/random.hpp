// Cryptographically secure random bytes and time-ordered opaque identifiers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tmc::crypto {

// n bytes from OpenSSL's CSPRNG (RAND_bytes). Throws std::runtime_error if the generator fails.
// Thread-safe.
std::string random_bytes(std::size_t n);

// Fills out with bytes from the same CSPRNG, served from a per-thread buffer that RAND_bytes
// refills 4 KiB at a time: for values that are public and must only never repeat, i.e. AEAD
// nonces, never for keys or secrets. A process forked from this one refills before its first
// use, so parent and child never hand out the same bytes. Throws std::runtime_error if the
// generator fails.
void random_nonce(char* out, std::size_t n);

// An opaque, URL-safe identifier: prefix + "_" + 12 hex digits of the Unix time in milliseconds
// + 16 lower-case Crockford base32 characters (80 random bits), e.g.
// "con_018c1f2e3a4b7x2m9q0r5s8t1v3w". Ids from this process sort lexicographically in creation
// order, also within one millisecond and if the system clock steps back (the last id's
// timestamp and random part are carried forward and incremented). The prefix should be short
// and match [a-z0-9]+. Thread-safe.
std::string random_id(std::string_view prefix);

}  // namespace tmc::crypto

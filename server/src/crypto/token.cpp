// Session token generation and hashing.
#include "crypto/token.hpp"

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"

namespace tmc::crypto {

std::string new_session_token() { return base64url_encode(random_bytes(32)); }

std::string token_hash(std::string_view token) { return sha256(token); }

}  // namespace tmc::crypto

// Session tokens: random bearer strings handed to clients and stored only as their SHA-256.
#pragma once

#include <string>
#include <string_view>

namespace tmc::crypto {

// 32 random bytes, base64url without padding (43 characters). Thread-safe.
std::string new_session_token();

// SHA-256 of the token as 32 raw bytes: what the store keeps and looks tokens up by.
std::string token_hash(std::string_view token);

}  // namespace tmc::crypto

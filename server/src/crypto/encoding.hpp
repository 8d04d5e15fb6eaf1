// Text encodings of raw byte strings: hex, unpadded base64url and RFC 4648 base32.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tmc::crypto {

// Lower-case hex. Decoding accepts either case; odd length or a non-hex character -> nullopt.
std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view text);

// RFC 4648 section 5 alphabet without '=' padding. Decoding is strict: padding, characters
// outside the alphabet, an impossible length or non-zero trailing bits -> nullopt.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

// RFC 4648 base32 (upper case, no padding), as authenticator apps expect TOTP secrets.
// Decoding ignores case and trailing '=' padding; anything else invalid -> nullopt.
std::string base32_encode(std::string_view bytes);
std::optional<std::string> base32_decode(std::string_view text);

}  // namespace tmc::crypto

// scrypt via EVP_KDF "SCRYPT" and the "scrypt$..." hash encoding.
#include "crypto/password.hpp"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <bit>
#include <charconv>
#include <memory>
#include <stdexcept>
#include <vector>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/openssl_error.hpp"
#include "crypto/random.hpp"

namespace tmc::crypto {
namespace {

constexpr std::size_t salt_size = 16;
constexpr std::size_t hash_size = 32;
constexpr std::size_t min_salt_size = 8;
constexpr std::size_t max_salt_size = 64;
constexpr std::size_t min_hash_size = 16;
constexpr std::size_t max_hash_size = 64;
constexpr std::uint64_t max_n = std::uint64_t{1} << 20;
constexpr std::uint64_t max_memory = std::uint64_t{1} << 30;
constexpr std::string_view scheme = "scrypt";

struct ParsedHash {
  ScryptParams params;
  std::string salt;
  std::string hash;
};

struct KdfFree {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
  void operator()(EVP_KDF_CTX* context) const { EVP_KDF_CTX_free(context); }
};

// Raw scrypt output of length out_size; params must be valid.
std::string derive(std::string_view password, std::string_view salt, const ScryptParams& params,
                   std::size_t out_size) {
  const std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr));
  if (!kdf) detail::throw_openssl_error("scrypt unavailable");
  const std::unique_ptr<EVP_KDF_CTX, KdfFree> context(EVP_KDF_CTX_new(kdf.get()));
  if (!context) detail::throw_openssl_error("EVP_KDF_CTX_new failed");

  // OpenSSL needs 128*r*(n+2) bytes for V plus 128*r*p for B; its default cap is 32 MiB.
  std::uint64_t n = params.n;
  std::uint32_t r = params.r;
  std::uint32_t p = params.p;
  std::uint64_t max_memory_bytes = 128u * std::uint64_t{r} * (n + 2 + p) + 65536;
  static const char empty = 0;  // a null password pointer means "unset" to OpenSSL
  const OSSL_PARAM ossl_params[] = {
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(password.empty() ? &empty : password.data()),
          password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &max_memory_bytes),
      OSSL_PARAM_construct_end(),
  };
  std::string out(out_size, '\0');
  if (EVP_KDF_derive(context.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     ossl_params) != 1) {
    detail::throw_openssl_error("scrypt derivation failed");
  }
  return out;
}

// Parses an unsigned decimal that must fill the whole field.
template <class Unsigned>
std::optional<Unsigned> parse_unsigned(std::string_view field) {
  Unsigned value{};
  if (field.empty() || field.size() > 10) return std::nullopt;
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (error != std::errc{} || end != field.data() + field.size()) return std::nullopt;
  return value;
}

std::optional<ParsedHash> parse(std::string_view encoded) {
  std::vector<std::string_view> fields;
  while (fields.size() < 6) {
    const std::size_t dollar = encoded.find('$');
    fields.push_back(encoded.substr(0, dollar));
    if (dollar == std::string_view::npos) break;
    encoded.remove_prefix(dollar + 1);
  }
  if (fields.size() != 6 || fields[5].size() != encoded.size() || fields[0] != scheme) {
    return std::nullopt;  // wrong field count (the last field must be the whole remainder)
  }
  const auto log2_n = parse_unsigned<std::uint32_t>(fields[1]);
  const auto r = parse_unsigned<std::uint32_t>(fields[2]);
  const auto p = parse_unsigned<std::uint32_t>(fields[3]);
  if (!log2_n || !r || !p || *log2_n >= 64) return std::nullopt;
  ParsedHash parsed{ScryptParams{std::uint64_t{1} << *log2_n, *r, *p}, {}, {}};
  if (!parsed.params.valid()) return std::nullopt;

  auto salt = base64url_decode(fields[4]);
  auto hash = base64url_decode(fields[5]);
  if (!salt || salt->size() < min_salt_size || salt->size() > max_salt_size) return std::nullopt;
  if (!hash || hash->size() < min_hash_size || hash->size() > max_hash_size) return std::nullopt;
  parsed.salt = std::move(*salt);
  parsed.hash = std::move(*hash);
  return parsed;
}

void require_valid(const ScryptParams& params) {
  if (!params.valid()) throw std::invalid_argument("invalid scrypt parameters");
}

}  // namespace

bool ScryptParams::valid() const noexcept {
  return n >= 2 && n <= max_n && std::has_single_bit(n) && r >= 1 && r <= 32 && p >= 1 && p <= 16 &&
         128u * n * r <= max_memory;
}

std::string hash_password(std::string_view password, const ScryptParams& params) {
  require_valid(params);
  const std::string salt = random_bytes(salt_size);
  const std::string hash = derive(password, salt, params, hash_size);
  std::string encoded(scheme);
  for (const auto number : {static_cast<std::uint64_t>(std::countr_zero(params.n)),
                            std::uint64_t{params.r}, std::uint64_t{params.p}}) {
    encoded += '$';
    encoded += std::to_string(number);
  }
  encoded += '$';
  encoded += base64url_encode(salt);
  encoded += '$';
  encoded += base64url_encode(hash);
  return encoded;
}

bool verify_password(std::string_view password, std::string_view encoded) {
  const auto parsed = parse(encoded);
  if (!parsed) return false;
  const std::string candidate = derive(password, parsed->salt, parsed->params, parsed->hash.size());
  return constant_time_equal(candidate, parsed->hash);
}

std::optional<ScryptParams> password_params(std::string_view encoded) {
  const auto parsed = parse(encoded);
  if (!parsed) return std::nullopt;
  return parsed->params;
}

bool needs_rehash(std::string_view encoded, const ScryptParams& params) {
  const auto current = password_params(encoded);
  return !current || !(*current == params);
}

void dummy_verify(std::string_view password, const ScryptParams& params) {
  require_valid(params);
  const std::string salt = random_bytes(salt_size);
  const std::string expected = random_bytes(hash_size);
  // The comparison mirrors verify_password; its (always false) result is irrelevant.
  static_cast<void>(constant_time_equal(derive(password, salt, params, hash_size), expected));
}

}  // namespace tmc::crypto

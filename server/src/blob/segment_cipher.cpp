// File header encoding, HKDF segment-key derivation and per-segment AES-256-GCM.
#include "blob/segment_cipher.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>
#include <stdexcept>
#include <utility>

#include "crypto/aead.hpp"
#include "crypto/random.hpp"

namespace tmc::blob {
namespace {

constexpr std::string_view key_info_label = "tmc-blob segment key v1";
constexpr std::string_view aad_label = "tmc-blob v1";

void append_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xffu));
  }
}

std::uint32_t read_u32(std::string_view bytes) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

struct KdfFree {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
  void operator()(EVP_KDF_CTX* context) const { EVP_KDF_CTX_free(context); }
};

[[noreturn]] void throw_openssl(const char* what) {
  ERR_clear_error();
  throw std::runtime_error(what);
}

// OpenSSL treats a null octet-string pointer as "unset"; empty inputs point here instead.
char* octets(std::string_view data) {
  static char empty = 0;
  return data.empty() ? &empty : const_cast<char*>(data.data());
}

}  // namespace

std::string hkdf_sha256(std::string_view key, std::string_view salt, std::string_view info,
                        std::size_t out_size) {
  const std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) throw_openssl("HKDF unavailable");
  const std::unique_ptr<EVP_KDF_CTX, KdfFree> context(EVP_KDF_CTX_new(kdf.get()));
  if (!context) throw_openssl("EVP_KDF_CTX_new failed");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, octets(key), key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, octets(salt), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, octets(info), info.size()),
      OSSL_PARAM_construct_end(),
  };
  std::string out(out_size, '\0');
  if (EVP_KDF_derive(context.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     params) != 1) {
    throw_openssl("HKDF derivation failed");
  }
  return out;
}

bool FileHeader::valid() const noexcept {
  return segment_size >= min_segment_size && segment_size <= max_segment_size &&
         salt.size() == blob_salt_size && nonce_prefix.size() == blob_nonce_prefix_size;
}

FileHeader FileHeader::create(std::uint32_t segment_size) {
  FileHeader header{segment_size, crypto::random_bytes(blob_salt_size),
                    crypto::random_bytes(blob_nonce_prefix_size)};
  if (!header.valid()) throw std::invalid_argument("blob segment size out of range");
  return header;
}

std::string FileHeader::serialize() const {
  std::string out;
  out.reserve(serialized_size);
  out.push_back(static_cast<char>(blob_format_version));
  append_u32(out, segment_size);
  out += salt;
  out += nonce_prefix;
  return out;
}

std::optional<FileHeader> FileHeader::parse(std::string_view bytes) {
  if (bytes.size() != serialized_size) return std::nullopt;
  if (static_cast<unsigned char>(bytes[0]) != blob_format_version) return std::nullopt;
  FileHeader header{read_u32(bytes.substr(1, 4)), std::string(bytes.substr(5, blob_salt_size)),
                    std::string(bytes.substr(5 + blob_salt_size))};
  if (!header.valid()) return std::nullopt;
  return header;
}

SegmentCipher::SegmentCipher(std::string_view data_key, std::string file_id, FileHeader header)
    : file_id_(std::move(file_id)), header_(std::move(header)) {
  if (data_key.size() != crypto::aead_key_size) {
    throw std::invalid_argument("blob data key must be 32 bytes");
  }
  if (!header_.valid()) throw std::invalid_argument("invalid blob file header");
  std::string info(key_info_label);
  info += file_id_;
  key_ = hkdf_sha256(data_key, header_.salt, info, crypto::aead_key_size);
  aad_ = aad_label;
  append_u32(aad_, static_cast<std::uint32_t>(file_id_.size()));
  aad_ += file_id_;
  aad_ += header_.serialize();
}

SegmentCipher& SegmentCipher::operator=(const SegmentCipher& other) {
  if (this != &other) {
    wipe();
    file_id_ = other.file_id_;
    header_ = other.header_;
    key_ = other.key_;
    aad_ = other.aad_;
  }
  return *this;
}

SegmentCipher& SegmentCipher::operator=(SegmentCipher&& other) noexcept {
  if (this != &other) {
    wipe();
    file_id_ = std::move(other.file_id_);
    header_ = std::move(other.header_);
    key_ = std::move(other.key_);
    aad_ = std::move(other.aad_);
  }
  return *this;
}

SegmentCipher::~SegmentCipher() { wipe(); }

void SegmentCipher::wipe() noexcept {
  if (!key_.empty()) OPENSSL_cleanse(key_.data(), key_.size());
}

std::string SegmentCipher::nonce(std::uint32_t index, bool last) const {
  std::string out = header_.nonce_prefix;
  append_u32(out, index);
  out.push_back(last ? '\x01' : '\x00');
  return out;
}

std::string SegmentCipher::seal_segment(std::uint32_t index, bool last,
                                        std::string_view plaintext) const {
  std::string out(plaintext.size() + blob_tag_size, '\0');
  seal_segment_to(out.data(), index, last, plaintext);
  return out;
}

void SegmentCipher::seal_segment_to(char* out, std::uint32_t index, bool last,
                                    std::string_view plaintext) const {
  check_plaintext_size(last, plaintext.size());
  crypto::seal_with_nonce_to(out, key_, nonce(index, last), plaintext, aad_);
}

void SegmentCipher::check_plaintext_size(bool last, std::size_t size) const {
  if (last ? size > header_.segment_size : size != header_.segment_size) {
    throw std::invalid_argument("blob segment has the wrong size");
  }
}

std::optional<std::string> SegmentCipher::open_segment(std::uint32_t index, bool last,
                                                       std::string_view sealed) const {
  // Size checks first: a wrong size can only be a truncated or foreign segment.
  if (sealed.size() < blob_tag_size) return std::nullopt;
  const std::size_t plaintext_size = sealed.size() - blob_tag_size;
  if (last ? plaintext_size > header_.segment_size : plaintext_size != header_.segment_size) {
    return std::nullopt;
  }
  return crypto::open_with_nonce(key_, nonce(index, last), sealed, aad_);
}

}  // namespace tmc::blob

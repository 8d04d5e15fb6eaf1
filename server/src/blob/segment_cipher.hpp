// Streaming AEAD format for case files: per-file header and AES-256-GCM sealing of segments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tmc::blob {

// The construction follows Tink's AES-GCM-HKDF streaming AEAD:
//   segment key = HKDF-SHA256(ikm = data key, salt = header.salt,
//                             info = "tmc-blob segment key v1" || file id)
//   nonce(i)    = header.nonce_prefix (7 bytes) || uint32 big-endian i || last flag (0x00/0x01)
//   aad         = "tmc-blob v1" || uint32 big-endian length of file id || file id || header bytes
// Plaintext is cut into segments of exactly header.segment_size bytes; only the last segment
// (flag 0x01) may be shorter, and it may be empty. Each sealed segment is ciphertext || 16-byte
// tag. So a flipped bit, swapped or dropped segments, truncation (no segment carries the last
// flag), a changed header (segment size, salt) and a segment copied from another file all fail
// authentication.
//
// Nonce uniqueness rests on the random per-file salt and data key: a (data key, header) pair
// must serve one file only, and a segment index must not be sealed twice with different
// plaintext (a resumed upload re-seals the same bytes or starts a new file).

inline constexpr std::uint8_t blob_format_version = 1;
inline constexpr std::size_t blob_salt_size = 32;
inline constexpr std::size_t blob_nonce_prefix_size = 7;
inline constexpr std::size_t blob_tag_size = 16;
// Bounds for FileHeader::segment_size.
inline constexpr std::uint32_t min_segment_size = 64;
inline constexpr std::uint32_t max_segment_size = 64u << 20;
inline constexpr std::uint32_t default_segment_size = 256u << 10;

// Per-file parameters, stored next to the wrapped data key (e.g. in the case-file row); not
// secret, but authenticated: every segment's aad includes the serialised header.
struct FileHeader {
  std::uint32_t segment_size = default_segment_size;  // plaintext bytes per non-last segment
  std::string salt;                                   // blob_salt_size random bytes
  std::string nonce_prefix;                           // blob_nonce_prefix_size random bytes

  // Serialised size: version (1) + segment size (4) + salt + nonce prefix.
  static constexpr std::size_t serialized_size = 1 + 4 + blob_salt_size + blob_nonce_prefix_size;

  // A header with a fresh random salt and nonce prefix. Throws std::invalid_argument if
  // segment_size is outside [min_segment_size, max_segment_size].
  static FileHeader create(std::uint32_t segment_size = default_segment_size);

  // Exactly serialized_size bytes: version || uint32 big-endian segment size || salt || prefix.
  std::string serialize() const;

  // nullopt if bytes has the wrong length, an unknown version or an out-of-range segment size.
  static std::optional<FileHeader> parse(std::string_view bytes);

  bool valid() const noexcept;
  friend bool operator==(const FileHeader&, const FileHeader&) = default;
};

// Seals and opens the segments of one file. Immutable after construction, so const members are
// safe to call from several threads. Copyable (copies hold the derived key too); the key is
// wiped from memory on destruction.
class SegmentCipher {
 public:
  // Derives the segment key. Throws std::invalid_argument if data_key is not 32 bytes or the
  // header is invalid, std::runtime_error if OpenSSL fails.
  SegmentCipher(std::string_view data_key, std::string file_id, FileHeader header);
  SegmentCipher(const SegmentCipher& other) = default;
  SegmentCipher(SegmentCipher&& other) noexcept = default;
  SegmentCipher& operator=(const SegmentCipher& other);
  SegmentCipher& operator=(SegmentCipher&& other) noexcept;
  ~SegmentCipher();

  // ciphertext || tag (plaintext.size() + blob_tag_size bytes). Throws std::invalid_argument if
  // a non-last segment is not exactly segment_size() bytes or a last one is longer.
  std::string seal_segment(std::uint32_t index, bool last, std::string_view plaintext) const;
  // The same into out[0, plaintext.size() + blob_tag_size), memory the caller provides.
  void seal_segment_to(char* out, std::uint32_t index, bool last,
                       std::string_view plaintext) const;

  // The plaintext, or nullopt if sealed was not produced by seal_segment(index, last, ...) of
  // this file (tampered, moved, other file or key, wrong last flag, wrong size). Never throws
  // because of the input.
  std::optional<std::string> open_segment(std::uint32_t index, bool last,
                                          std::string_view sealed) const;

  const std::string& file_id() const { return file_id_; }
  const FileHeader& header() const { return header_; }
  std::uint32_t segment_size() const { return header_.segment_size; }

 private:
  std::string nonce(std::uint32_t index, bool last) const;
  void check_plaintext_size(bool last, std::size_t size) const;
  void wipe() noexcept;

  std::string file_id_;
  FileHeader header_;
  std::string key_;  // derived segment key, 32 bytes
  std::string aad_;
};

// HKDF-SHA256 (RFC 5869) extract-and-expand to out_size bytes. Throws std::runtime_error if
// OpenSSL fails (including out_size > 255 * 32).
std::string hkdf_sha256(std::string_view key, std::string_view salt, std::string_view info,
                        std::size_t out_size);

}  // namespace tmc::blob

// Signed tree heads of the audit log: what is signed, and the text form kept off the host.
#include "audit/tree_head.hpp"

#include <charconv>
#include <sstream>

#include "audit/canonical_record.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"

namespace tmc::audit {
namespace {

void append_big_endian(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((value >> shift) & 0xff);
  }
}

// The value after "<key> " on the next line of in, or nullopt.
std::optional<std::string> read_line(std::istringstream& in, std::string_view key) {
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  if (line.size() <= key.size() + 1 || line.compare(0, key.size(), key) != 0 ||
      line[key.size()] != ' ') {
    return std::nullopt;
  }
  return line.substr(key.size() + 1);
}

std::optional<std::string> read_hex(std::istringstream& in, std::string_view key,
                                    std::size_t size) {
  auto text = read_line(in, key);
  if (!text) return std::nullopt;
  auto bytes = crypto::hex_decode(*text);
  if (!bytes || bytes->size() != size) return std::nullopt;
  return bytes;
}

}  // namespace

std::string tree_head_message(std::int64_t tree_size, TimePoint signed_at,
                              std::string_view root_hash) {
  std::string message("tmc-audit-tree-head-v1");
  message += '\0';
  append_big_endian(message, static_cast<std::uint64_t>(tree_size));
  append_big_endian(message, static_cast<std::uint64_t>(signed_at.time_since_epoch().count()));
  message += root_hash;
  return message;
}

SignedTreeHead sign_tree_head(const SigningKey& key, std::int64_t tree_size,
                              std::string root_hash, TimePoint signed_at) {
  SignedTreeHead head;
  head.tree_size = tree_size;
  head.signed_at = signed_at;
  head.signature = key.sign(tree_head_message(tree_size, signed_at, root_hash));
  head.root_hash = std::move(root_hash);
  head.public_key = key.public_key();
  return head;
}

bool signature_valid(const SignedTreeHead& head) {
  return head.root_hash.size() == crypto::sha256_size &&
         verify_signature(head.public_key,
                          tree_head_message(head.tree_size, head.signed_at, head.root_hash),
                          head.signature);
}

std::string format_tree_head(const SignedTreeHead& head) {
  std::ostringstream out;
  out << "tmc-audit-head 1\n"
      << "tree_size " << head.tree_size << '\n'
      << "root_hash " << crypto::hex_encode(head.root_hash) << '\n'
      << "signed_at " << format_utc(head.signed_at) << '\n'
      << "public_key " << crypto::hex_encode(head.public_key) << '\n'
      << "signature " << crypto::hex_encode(head.signature) << '\n';
  return out.str();
}

std::optional<SignedTreeHead> parse_tree_head(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  if (!std::getline(in, line) || line != "tmc-audit-head 1") return std::nullopt;
  SignedTreeHead head;
  const auto size_text = read_line(in, "tree_size");
  if (!size_text) return std::nullopt;
  const auto* end = size_text->data() + size_text->size();
  if (auto [ptr, error] = std::from_chars(size_text->data(), end, head.tree_size);
      error != std::errc() || ptr != end || head.tree_size < 0) {
    return std::nullopt;
  }
  auto root = read_hex(in, "root_hash", crypto::sha256_size);
  const auto time_text = read_line(in, "signed_at");
  const auto signed_at = time_text ? parse_utc(*time_text) : std::nullopt;
  auto public_key = read_hex(in, "public_key", ed25519_public_key_size);
  auto signature = read_hex(in, "signature", ed25519_signature_size);
  if (!root || !signed_at || !public_key || !signature) return std::nullopt;
  while (std::getline(in, line)) {
    if (!line.empty()) return std::nullopt;
  }
  head.root_hash = std::move(*root);
  head.signed_at = *signed_at;
  head.public_key = std::move(*public_key);
  head.signature = std::move(*signature);
  return head;
}

}  // namespace tmc::audit

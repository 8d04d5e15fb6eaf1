// RFC 9162 (Certificate Transparency v2) Merkle tree hashing for the audit log.
#include "audit/merkle.hpp"

#include <bit>

#include "crypto/hash.hpp"

namespace tmc::audit {
namespace {

std::string root_of(const std::vector<std::string>& hashes, std::size_t begin, std::size_t end) {
  const std::size_t n = end - begin;
  if (n == 1) return hashes[begin];
  const std::size_t k = std::bit_floor(n - 1);  // largest power of two smaller than n
  return node_hash(root_of(hashes, begin, begin + k), root_of(hashes, begin + k, end));
}

}  // namespace

std::string leaf_hash(std::string_view leaf) {
  crypto::Sha256 hash;
  hash.update(std::string_view("\x00", 1));
  hash.update(leaf);
  return hash.finish();
}

std::string node_hash(std::string_view left, std::string_view right) {
  crypto::Sha256 hash;
  hash.update(std::string_view("\x01", 1));
  hash.update(left);
  hash.update(right);
  return hash.finish();
}

std::string empty_tree_hash() { return crypto::sha256(""); }

std::string merkle_root(const std::vector<std::string>& leaf_hashes) {
  if (leaf_hashes.empty()) return empty_tree_hash();
  return root_of(leaf_hashes, 0, leaf_hashes.size());
}

void CompactRange::append(std::string_view leaf_hash) {
  subtrees_.emplace_back(leaf_hash);
  ++size_;
  // Each trailing zero bit of the new size is a pair of equal-sized subtrees to merge.
  for (auto bits = static_cast<std::uint64_t>(size_); (bits & 1) == 0; bits >>= 1) {
    auto right = std::move(subtrees_.back());
    subtrees_.pop_back();
    subtrees_.back() = node_hash(subtrees_.back(), right);
  }
}

std::string CompactRange::root() const {
  if (subtrees_.empty()) return empty_tree_hash();
  // MTH splits at the largest power of two, so the right spine folds from the smallest subtree.
  std::string hash = subtrees_.back();
  for (auto it = subtrees_.rbegin() + 1; it != subtrees_.rend(); ++it) hash = node_hash(*it, hash);
  return hash;
}

std::string CompactRange::serialize() const {
  std::string out;
  out.reserve(subtrees_.size() * crypto::sha256_size);
  for (const auto& subtree : subtrees_) out += subtree;
  return out;
}

std::optional<CompactRange> CompactRange::restore(std::int64_t size, std::string_view subtrees) {
  if (size < 0) return std::nullopt;
  const auto count = static_cast<std::size_t>(std::popcount(static_cast<std::uint64_t>(size)));
  if (subtrees.size() != count * crypto::sha256_size) return std::nullopt;
  CompactRange range;
  range.size_ = size;
  for (std::size_t i = 0; i < count; ++i) {
    range.subtrees_.emplace_back(subtrees.substr(i * crypto::sha256_size, crypto::sha256_size));
  }
  return range;
}

}  // namespace tmc::audit

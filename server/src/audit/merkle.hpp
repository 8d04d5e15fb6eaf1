// RFC 9162 (Certificate Transparency v2) Merkle tree hashing for the audit log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tmc::audit {

// SHA-256(0x00 || leaf) and SHA-256(0x01 || left || right) (RFC 9162 section 2.1.1), 32 bytes.
std::string leaf_hash(std::string_view leaf);
std::string node_hash(std::string_view left, std::string_view right);

// MTH of the empty tree: SHA-256 of the empty string.
std::string empty_tree_hash();

// The Merkle tree hash of leaves given by their leaf hashes, computed recursively as RFC 9162
// defines it (split at the largest power of two smaller than n). O(n) time, O(log n) stack.
std::string merkle_root(const std::vector<std::string>& leaf_hashes);

// Incremental MTH: the roots of the perfect subtrees that make up a tree of size n (one per
// set bit of n, largest first), so appending is O(log n) amortised and the root costs O(log n).
// Gives the same root as merkle_root over the same leaves. Not thread-safe.
class CompactRange {
 public:
  void append(std::string_view leaf_hash);
  std::string root() const;
  std::int64_t size() const { return size_; }

  // The subtree roots, concatenated (32 bytes each), and the range rebuilt from them: what a
  // restarted writer resumes from instead of re-reading every leaf. nullopt unless subtrees
  // holds exactly one 32-byte root per set bit of size.
  std::string serialize() const;
  static std::optional<CompactRange> restore(std::int64_t size, std::string_view subtrees);

 private:
  std::vector<std::string> subtrees_;  // subtree roots, left to right, sizes decreasing
  std::int64_t size_ = 0;
};

}  // namespace tmc::audit

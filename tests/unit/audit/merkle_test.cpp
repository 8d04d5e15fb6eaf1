// RFC 9162 Merkle tree hash: recursive and incremental forms against a literal reference.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/merkle.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"

namespace tmc::audit {
namespace {

// RFC 9162 section 2.1.1, written out literally over the leaf data D[0:n].
std::string reference_mth(const std::vector<std::string>& data, std::size_t begin,
                          std::size_t end) {
  const std::size_t n = end - begin;
  if (n == 0) return crypto::sha256("");
  if (n == 1) return crypto::sha256(std::string(1, '\0') + data[begin]);
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;  // largest power of two smaller than n
  return crypto::sha256(std::string(1, '\x01') + reference_mth(data, begin, begin + k) +
                        reference_mth(data, begin + k, end));
}

std::vector<std::string> leaves(std::size_t n) {
  std::vector<std::string> data;
  for (std::size_t i = 0; i < n; ++i) data.push_back("record " + std::to_string(i));
  return data;
}

std::vector<std::string> hashes_of(const std::vector<std::string>& data) {
  std::vector<std::string> hashes;
  for (const auto& leaf : data) hashes.push_back(leaf_hash(leaf));
  return hashes;
}

TEST(Merkle, KnownVectors) {
  // SHA-256 of the empty string, and of the single byte 0x00 (an empty leaf; RFC 6962 vectors).
  EXPECT_EQ(crypto::hex_encode(empty_tree_hash()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(crypto::hex_encode(leaf_hash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(merkle_root({}), empty_tree_hash());
  EXPECT_EQ(CompactRange().root(), empty_tree_hash());
}

TEST(Merkle, RootMatchesReferenceForSizesOneToSeventeen) {
  for (std::size_t n = 1; n <= 17; ++n) {
    const auto data = leaves(n);
    const auto expected = reference_mth(data, 0, n);
    EXPECT_EQ(merkle_root(hashes_of(data)), expected) << "size " << n;
    CompactRange range;
    for (const auto& hash : hashes_of(data)) range.append(hash);
    EXPECT_EQ(range.size(), static_cast<std::int64_t>(n));
    EXPECT_EQ(range.root(), expected) << "incremental, size " << n;
  }
}

TEST(Merkle, EveryPrefixOfAGrowingTreeHasTheReferenceRoot) {
  const auto data = leaves(40);
  CompactRange range;
  for (std::size_t m = 1; m <= data.size(); ++m) {
    range.append(leaf_hash(data[m - 1]));
    EXPECT_EQ(range.root(), reference_mth(data, 0, m)) << "prefix " << m;
  }
}

TEST(Merkle, RootDependsOnEveryLeafAndItsPosition) {
  const auto data = leaves(13);
  const auto root = merkle_root(hashes_of(data));
  for (std::size_t i = 0; i < data.size(); ++i) {
    auto changed = data;
    changed[i] += "x";
    EXPECT_NE(merkle_root(hashes_of(changed)), root) << "leaf " << i;
  }
  auto swapped = data;
  std::swap(swapped[3], swapped[4]);
  EXPECT_NE(merkle_root(hashes_of(swapped)), root);
  // Domain separation: a leaf whose data is two node hashes is not the node itself.
  EXPECT_NE(leaf_hash(leaf_hash("a") + leaf_hash("b")), node_hash(leaf_hash("a"), leaf_hash("b")));
}

TEST(CompactRange, RestoredFromItsSerializationItGivesTheSameRootsAsItGrows) {
  const auto hashes = hashes_of(leaves(70));
  for (std::size_t size = 0; size <= 40; ++size) {
    CompactRange grown;
    for (std::size_t i = 0; i < size; ++i) grown.append(hashes[i]);
    auto restored = CompactRange::restore(static_cast<std::int64_t>(size), grown.serialize());
    ASSERT_TRUE(restored.has_value()) << size;
    EXPECT_EQ(restored->size(), static_cast<std::int64_t>(size));
    for (std::size_t i = size; i < hashes.size(); ++i) {
      grown.append(hashes[i]);
      restored->append(hashes[i]);
    }
    EXPECT_EQ(restored->root(), merkle_root(hashes)) << size;
    EXPECT_EQ(restored->root(), grown.root()) << size;
  }
}

TEST(CompactRange, RestoreRefusesSubtreesThatDoNotFitTheSize) {
  CompactRange range;
  for (int i = 0; i < 11; ++i) range.append(leaf_hash(std::to_string(i)));  // 1011b: 3 roots
  const auto subtrees = range.serialize();
  ASSERT_EQ(subtrees.size(), 3u * 32u);
  EXPECT_TRUE(CompactRange::restore(11, subtrees).has_value());
  EXPECT_FALSE(CompactRange::restore(12, subtrees).has_value());  // 1100b: 2 roots
  EXPECT_FALSE(CompactRange::restore(11, subtrees.substr(0, 95)).has_value());
  EXPECT_FALSE(CompactRange::restore(11, subtrees + "x").has_value());
  EXPECT_FALSE(CompactRange::restore(-1, "").has_value());
  EXPECT_TRUE(CompactRange::restore(0, "").has_value());
}

}  // namespace
}  // namespace tmc::audit

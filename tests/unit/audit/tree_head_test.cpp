// Ed25519 signing key file and signed tree heads: signatures, tampering, text round trip.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>

#include "audit/merkle.hpp"
#include "audit/tree_head.hpp"
#include "audit_fixture.hpp"

namespace tmc::audit {
namespace {

const TimePoint signed_at(std::chrono::sys_days(std::chrono::year(2025) / 3 / 1).time_since_epoch() +
                          std::chrono::microseconds(123456));

SignedTreeHead sample_head(const SigningKey& key) {
  return sign_tree_head(key, 7, leaf_hash("root"), signed_at);
}

TEST(TreeHead, SignatureVerifiesAndCoversEveryField) {
  const auto key = SigningKey::generate();
  const auto head = sample_head(key);
  EXPECT_EQ(head.public_key, key.public_key());
  EXPECT_EQ(head.signature.size(), ed25519_signature_size);
  EXPECT_TRUE(signature_valid(head));

  auto changed = head;
  changed.tree_size = 8;
  EXPECT_FALSE(signature_valid(changed));
  changed = head;
  changed.root_hash[0] ^= 1;
  EXPECT_FALSE(signature_valid(changed));
  changed = head;
  changed.signed_at += std::chrono::microseconds(1);
  EXPECT_FALSE(signature_valid(changed));
  changed = head;
  changed.signature[10] ^= 1;
  EXPECT_FALSE(signature_valid(changed));
  changed = head;
  changed.public_key = SigningKey::generate().public_key();
  EXPECT_FALSE(signature_valid(changed));
  changed = head;
  changed.signature.resize(10);
  EXPECT_FALSE(signature_valid(changed));
}

TEST(TreeHead, TextFormRoundTrips) {
  const auto key = SigningKey::generate();
  const auto head = sample_head(key);
  const auto text = format_tree_head(head);
  EXPECT_TRUE(text.starts_with("tmc-audit-head 1\ntree_size 7\nroot_hash "));
  const auto parsed = parse_tree_head(text + "\n");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->tree_size, head.tree_size);
  EXPECT_EQ(parsed->root_hash, head.root_hash);
  EXPECT_EQ(parsed->signed_at, head.signed_at);
  EXPECT_EQ(parsed->public_key, head.public_key);
  EXPECT_EQ(parsed->signature, head.signature);
  EXPECT_TRUE(signature_valid(*parsed));

  EXPECT_FALSE(parse_tree_head(""));
  EXPECT_FALSE(parse_tree_head("tmc-audit-head 2\n" + text.substr(text.find('\n') + 1)));
  EXPECT_FALSE(parse_tree_head(text + "extra line\n"));
  auto bad_size = text;
  bad_size.replace(bad_size.find("tree_size 7"), 11, "tree_size x");
  EXPECT_FALSE(parse_tree_head(bad_size));
  EXPECT_FALSE(parse_tree_head(text.substr(0, text.size() - 3)));  // signature cut short
}

class SigningKeyFile : public testing::AuditStoreTest {};

TEST_F(SigningKeyFile, CreateLoadAndModeCheck) {
  const auto path = dir() / "audit.key";
  const auto created = SigningKey::create(path);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_THROW(SigningKey::create(path), std::runtime_error);  // never overwritten

  const auto loaded = SigningKey::load(path);
  EXPECT_EQ(loaded.public_key(), created.public_key());
  EXPECT_TRUE(verify_signature(created.public_key(), "m", loaded.sign("m")));
  EXPECT_EQ(SigningKey::load_or_create(path).public_key(), created.public_key());

  ::chmod(path.c_str(), 0644);
  EXPECT_THROW(SigningKey::load(path), std::runtime_error);

  const auto fresh = dir() / "fresh.key";
  EXPECT_NE(SigningKey::load_or_create(fresh).public_key(), created.public_key());
  EXPECT_TRUE(std::filesystem::exists(fresh));

  const auto garbage = dir() / "garbage.key";
  { std::ofstream(garbage) << "tmc-audit-key 1\ned25519 zz\n"; }
  ::chmod(garbage.c_str(), 0600);
  EXPECT_THROW(SigningKey::load(garbage), std::runtime_error);
  EXPECT_THROW(SigningKey::load(dir() / "missing.key"), std::runtime_error);
}

}  // namespace
}  // namespace tmc::audit

// Vault: data keys unwrapped once are answered from memory, and only for the exact wrapped form.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/keyring.hpp"
#include "domain/sealed_fields.hpp"

namespace tmc::domain {
namespace {

TEST(Vault, AWrappedKeyUnwrapsToItsOwnKeyEveryTime) {
  const auto ring = crypto::KeyRing::generate();
  const Vault vault(ring);
  const auto first = vault.new_data_key();
  const auto second = vault.new_data_key();
  EXPECT_EQ(vault.unwrap(first.wrapped), first.plain);
  EXPECT_EQ(vault.unwrap(second.wrapped), second.plain);
  EXPECT_EQ(vault.unwrap(first.wrapped), first.plain);  // now remembered
  EXPECT_EQ(vault.unwrap(second.wrapped), second.plain);
}

TEST(Vault, ATamperedOrForeignKeyIsRefusedAfterTheGenuineOneWasUnwrapped) {
  const auto ring = crypto::KeyRing::generate();
  const Vault vault(ring);
  const auto key = vault.new_data_key();
  ASSERT_EQ(vault.unwrap(key.wrapped), key.plain);

  auto tampered = key.wrapped;
  auto& byte = tampered[tampered.size() - 12];  // inside the ciphertext's base64url
  byte = byte == 'A' ? 'B' : 'A';
  EXPECT_THROW(static_cast<void>(vault.unwrap(tampered)), std::runtime_error);
  EXPECT_THROW(static_cast<void>(vault.unwrap(key.wrapped + "A")), std::runtime_error);

  const auto other_ring = crypto::KeyRing::generate();
  const Vault other(other_ring);
  EXPECT_THROW(static_cast<void>(other.unwrap(key.wrapped)), std::runtime_error);
  EXPECT_EQ(vault.unwrap(key.wrapped), key.plain);
}

TEST(Vault, MoreKeysThanItRemembersAllStillUnwrapCorrectly) {
  const auto ring = crypto::KeyRing::generate();
  const Vault vault(ring);
  std::vector<Vault::DataKey> keys;
  for (int i = 0; i < 2500; ++i) keys.push_back(vault.new_data_key());  // over 1,024, twice
  for (int round = 0; round < 2; ++round) {
    for (const auto& key : keys) ASSERT_EQ(vault.unwrap(key.wrapped), key.plain);
  }
}

}  // namespace
}  // namespace tmc::domain

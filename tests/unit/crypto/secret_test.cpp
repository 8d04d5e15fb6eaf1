// Secret: key material leaves no readable copy behind where a move or a wipe left it.
#include "crypto/secret.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace tmc::crypto {
namespace {

// A value short enough to live inside the std::string object itself, where a move copies the
// bytes instead of handing over a heap buffer: the source keeps them unless they are wiped.
const std::string kShort = "0123456789abcd";

// True when none of the first n bytes of the secret's storage is left non-zero.
bool storage_is_clear(const Secret& secret, std::size_t n) {
  const char* bytes = secret.value().data();
  for (std::size_t i = 0; i < n; ++i) {
    if (bytes[i] != '\0') return false;
  }
  return true;
}

TEST(Secret, AMovedFromSecretKeepsNoCopyOfItsBytes) {
  ASSERT_LE(kShort.size(), std::string().capacity()) << "the value must fit in place";
  Secret source(kShort);
  const Secret moved(std::move(source));
  EXPECT_EQ(moved.value(), kShort);
  EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move): what is left is the point
  EXPECT_TRUE(storage_is_clear(source, kShort.size()));

  Secret assigned_from(kShort);
  Secret target(std::string(40, 'k'));
  target = std::move(assigned_from);
  EXPECT_EQ(target.value(), kShort);
  EXPECT_TRUE(storage_is_clear(assigned_from, kShort.size()));  // NOLINT(bugprone-use-after-move)
}

TEST(Secret, AWipedOrOverwrittenSecretKeepsNoCopyOfItsBytes) {
  Secret wiped(kShort);
  wiped.wipe();
  EXPECT_TRUE(wiped.empty());
  EXPECT_TRUE(storage_is_clear(wiped, kShort.size()));

  // Assigned a shorter secret, the old bytes beyond the new value's end are gone too.
  Secret overwritten(kShort);
  overwritten = Secret(std::string("xy"));
  EXPECT_EQ(overwritten.value(), "xy");
  EXPECT_TRUE(storage_is_clear(overwritten, 0));
  const char* bytes = overwritten.value().data();
  for (std::size_t i = 3; i < kShort.size(); ++i) EXPECT_EQ(bytes[i], '\0') << i;
}

TEST(Secret, ACopyIsEqualAndIndependent) {
  const Secret original(kShort);
  Secret copy(original);
  EXPECT_EQ(copy, original);
  copy.wipe();
  EXPECT_EQ(original.value(), kShort);
  copy = original;
  EXPECT_EQ(copy, original);
}

}  // namespace
}  // namespace tmc::crypto

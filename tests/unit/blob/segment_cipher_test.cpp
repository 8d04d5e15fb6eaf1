// SegmentCipher and FileHeader: round trips, every kind of misplaced or altered segment fails.
#include "blob/segment_cipher.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "crypto/encoding.hpp"
#include "crypto/keyring.hpp"

namespace tmc::blob {
namespace {

constexpr std::uint32_t segment_size = 64;

std::string bytes(std::size_t size, char fill) { return std::string(size, fill); }

class SegmentCipherTest : public ::testing::Test {
 protected:
  std::string key_ = crypto::KeyRing::new_data_key();
  FileHeader header_ = FileHeader::create(segment_size);
  SegmentCipher cipher_{key_, "fil_one", header_};
};

TEST(Hkdf, MatchesRfc5869TestCase1) {
  const std::string okm =
      hkdf_sha256(std::string(22, '\x0b'), *crypto::hex_decode("000102030405060708090a0b0c"),
                  *crypto::hex_decode("f0f1f2f3f4f5f6f7f8f9"), 42);
  EXPECT_EQ(crypto::hex_encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(FileHeader, SerializesAndParses) {
  const FileHeader header = FileHeader::create(4096);
  EXPECT_EQ(header.salt.size(), blob_salt_size);
  EXPECT_EQ(header.nonce_prefix.size(), blob_nonce_prefix_size);
  const std::string bytes = header.serialize();
  ASSERT_EQ(bytes.size(), FileHeader::serialized_size);
  const std::optional<FileHeader> parsed = FileHeader::parse(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, header);
  EXPECT_NE(FileHeader::create(4096).salt, header.salt);
}

TEST(FileHeader, RejectsMalformedBytes) {
  const std::string good = FileHeader::create(4096).serialize();
  EXPECT_FALSE(FileHeader::parse(good.substr(1)));
  EXPECT_FALSE(FileHeader::parse(good + "x"));
  std::string version = good;
  version[0] = 2;
  EXPECT_FALSE(FileHeader::parse(version));
  std::string size = good;
  size[1] = '\x7f';  // about 2 GiB segments
  EXPECT_FALSE(FileHeader::parse(size));
  size = good;
  size[1] = size[2] = size[3] = size[4] = 0;
  EXPECT_FALSE(FileHeader::parse(size));
}

TEST(FileHeader, CreateRejectsOutOfRangeSegmentSize) {
  EXPECT_THROW(FileHeader::create(min_segment_size - 1), std::invalid_argument);
  EXPECT_THROW(FileHeader::create(max_segment_size + 1), std::invalid_argument);
  EXPECT_NO_THROW(FileHeader::create(min_segment_size));
}

TEST_F(SegmentCipherTest, RoundTripsFullAndLastSegments) {
  const std::string full = bytes(segment_size, 'a');
  const std::string sealed = cipher_.seal_segment(0, false, full);
  EXPECT_EQ(sealed.size(), full.size() + blob_tag_size);
  EXPECT_EQ(cipher_.open_segment(0, false, sealed), full);

  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{segment_size}}) {
    const std::string tail = bytes(size, 'z');
    EXPECT_EQ(cipher_.open_segment(7, true, cipher_.seal_segment(7, true, tail)), tail);
  }
}

TEST_F(SegmentCipherTest, SameInputsGiveSameCiphertextButIndexChangesIt) {
  const std::string full = bytes(segment_size, 'a');
  EXPECT_EQ(cipher_.seal_segment(3, false, full), cipher_.seal_segment(3, false, full));
  EXPECT_NE(cipher_.seal_segment(3, false, full), cipher_.seal_segment(4, false, full));
}

TEST_F(SegmentCipherTest, WrongIndexOrLastFlagFails) {
  const std::string sealed = cipher_.seal_segment(5, false, bytes(segment_size, 'a'));
  EXPECT_FALSE(cipher_.open_segment(4, false, sealed));
  EXPECT_FALSE(cipher_.open_segment(6, false, sealed));
  EXPECT_FALSE(cipher_.open_segment(5, true, sealed));
  const std::string last = cipher_.seal_segment(5, true, bytes(segment_size, 'a'));
  EXPECT_FALSE(cipher_.open_segment(5, false, last));
}

TEST_F(SegmentCipherTest, AnyFlippedBitFails) {
  const std::string sealed = cipher_.seal_segment(1, true, "clinical note");
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_FALSE(cipher_.open_segment(1, true, tampered)) << "byte " << i;
  }
  EXPECT_FALSE(cipher_.open_segment(1, true, sealed.substr(0, sealed.size() - 1)));
  EXPECT_FALSE(cipher_.open_segment(1, true, ""));
}

TEST_F(SegmentCipherTest, OtherFileIdKeyOrHeaderFails) {
  const std::string sealed = cipher_.seal_segment(0, false, bytes(segment_size, 'a'));
  const SegmentCipher other_id(key_, "fil_two", header_);
  const SegmentCipher other_key(crypto::KeyRing::new_data_key(), "fil_one", header_);
  const SegmentCipher other_salt(key_, "fil_one", FileHeader::create(segment_size));
  FileHeader prefix_changed = header_;
  prefix_changed.nonce_prefix[0] = static_cast<char>(prefix_changed.nonce_prefix[0] ^ 1);
  const SegmentCipher other_prefix(key_, "fil_one", prefix_changed);
  for (const SegmentCipher* other : {&other_id, &other_key, &other_salt, &other_prefix}) {
    EXPECT_FALSE(other->open_segment(0, false, sealed));
  }
  const SegmentCipher same(key_, "fil_one", header_);
  EXPECT_TRUE(same.open_segment(0, false, sealed));
}

TEST_F(SegmentCipherTest, ChangedSegmentSizeInHeaderFails) {
  const std::string sealed = cipher_.seal_segment(0, true, bytes(10, 'a'));
  FileHeader bigger = header_;
  bigger.segment_size = segment_size * 2;
  EXPECT_FALSE(SegmentCipher(key_, "fil_one", bigger).open_segment(0, true, sealed));
}

TEST_F(SegmentCipherTest, EnforcesSegmentSizes) {
  EXPECT_THROW(cipher_.seal_segment(0, false, bytes(segment_size - 1, 'a')), std::invalid_argument);
  EXPECT_THROW(cipher_.seal_segment(0, false, bytes(segment_size + 1, 'a')), std::invalid_argument);
  EXPECT_THROW(cipher_.seal_segment(0, true, bytes(segment_size + 1, 'a')), std::invalid_argument);
}

TEST_F(SegmentCipherTest, CopiesOpenWhatTheOriginalSealed) {
  SegmentCipher copy = cipher_;
  const std::string sealed = cipher_.seal_segment(2, true, "x");
  EXPECT_EQ(copy.open_segment(2, true, sealed), "x");
  SegmentCipher moved = std::move(copy);
  EXPECT_EQ(moved.open_segment(2, true, sealed), "x");
  moved = cipher_;
  EXPECT_EQ(moved.open_segment(2, true, sealed), "x");
}

TEST(SegmentCipher, RejectsBadKeyOrHeader) {
  EXPECT_THROW(SegmentCipher("short", "fil", FileHeader::create()), std::invalid_argument);
  FileHeader broken = FileHeader::create();
  broken.salt.clear();
  EXPECT_THROW(SegmentCipher(crypto::KeyRing::new_data_key(), "fil", broken),
               std::invalid_argument);
}

}  // namespace
}  // namespace tmc::blob

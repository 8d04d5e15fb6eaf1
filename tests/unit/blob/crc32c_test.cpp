// CRC-32C: published check values, incremental use, and the hardware and table versions agreeing.
#include "blob/crc32c.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace tmc::blob {
namespace {

TEST(Crc32c, MatchesPublishedCheckValues) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);  // the catalogue's check value for CRC-32C
  // RFC 3720 B.4: 32 bytes of zeros, of 0xff, and an ascending sequence.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62a8ab43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending), 0x46dd794eu);
}

TEST(Crc32c, ContinuesAcrossPiecesAndAgreesWithTheTableVersion) {
  std::mt19937 random(7);
  std::string data(70'000, '\0');
  for (auto& c : data) c = static_cast<char>(random());
  const std::uint32_t whole = crc32c(data);
  EXPECT_EQ(detail::crc32c_portable(data), whole);
  for (std::size_t cut : {0, 1, 7, 8, 9, 4096, 69'999, 70'000}) {
    const std::string_view view(data);
    EXPECT_EQ(crc32c(view.substr(cut), crc32c(view.substr(0, cut))), whole) << cut;
  }
  for (std::size_t size = 0; size < 40; ++size) {  // every tail length of the 8-byte loop
    const std::string_view piece(data.data() + 3, size);
    EXPECT_EQ(crc32c(piece), detail::crc32c_portable(piece)) << size;
  }
  data[12'345] ^= 0x04;
  EXPECT_NE(crc32c(data), whole);
}

// Long inputs go through three registers at once in blocks of 3 x 8 KiB, which are combined;
// every length around the block boundaries, from unaligned starts and with a state carried in,
// must give the table version's result.
TEST(Crc32c, LongInputsAgreeWithTheTableVersionAroundEveryBlockBoundary) {
  std::mt19937 random(11);
  std::string data((1u << 20) + 64, '\0');
  for (auto& c : data) c = static_cast<char>(random());
  const std::string_view view(data);
  constexpr std::size_t block = 3 * 8192;
  for (const std::size_t size : {block - 8, block - 1, block, block + 1, block + 8,
                                 2 * block - 3, 2 * block, 2 * block + 7, std::size_t{1} << 20}) {
    for (const std::size_t start : {0, 1, 5}) {
      const std::string_view piece = view.substr(start, size);
      EXPECT_EQ(crc32c(piece), detail::crc32c_portable(piece)) << size << " at " << start;
      EXPECT_EQ(crc32c(piece, 0x9e3779b9u), detail::crc32c_portable(piece, 0x9e3779b9u))
          << size << " at " << start;
    }
  }
  // One flipped bit in any lane of a block changes the result.
  const std::uint32_t whole = crc32c(view.substr(0, block));
  for (const std::size_t at : {std::size_t{3}, block / 3 + 5, 2 * block / 3 + 9}) {
    std::string changed(view.substr(0, block));
    changed[at] ^= 0x20;
    EXPECT_NE(crc32c(changed), whole) << at;
  }
}

}  // namespace
}  // namespace tmc::blob

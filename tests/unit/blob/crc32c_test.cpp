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

}  // namespace
}  // namespace tmc::blob

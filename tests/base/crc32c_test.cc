#include "base/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace dsarl {
namespace {

TEST(Crc32c, KnownVectors) {
  // RFC 3720 (iSCSI) B.4 test vectors and the classic "123456789" check value.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string inc;
  for (int i = 0; i < 32; ++i) inc.push_back(char(i));
  EXPECT_EQ(Crc32c(inc), 0x46DD794Eu);
}

TEST(Crc32c, IncrementalEqualsWhole) {
  std::string s = "the quick brown fox jumps over the lazy dog, twice or thrice";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t a = Crc32c(std::string_view(s).substr(0, cut));
    EXPECT_EQ(Crc32c(std::string_view(s).substr(cut), a), Crc32c(s));
  }
}

}  // namespace
}  // namespace dsarl

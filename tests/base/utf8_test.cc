#include "base/utf8.h"

#include <string>

#include "base/json_string.h"
#include "gtest/gtest.h"

namespace dsarl {
namespace {

TEST(Utf8, SanitizeRejectsOverlongSurrogatesAndBeyondUnicode) {
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");          // > U+10FFFF
  EXPECT_EQ(SanitizeUtf8("\xF0\x9F\x98\x80 ok"), "\xF0\x9F\x98\x80 ok");  // emoji stays
  EXPECT_EQ(SanitizeUtf8("\xF0\x9F\x98"), "\xEF\xBF\xBD");  // truncated at end: one U+FFFD
}

TEST(Utf8, ValidityAgreesWithSanitize) {
  for (const std::string s : {"", "plain", "caf\xC3\xA9", "\xE2\x82\xAC 5", "\xF0\x9F\x98\x80",
                              "\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "a\xFFz"}) {
    EXPECT_EQ(IsValidUtf8(s), SanitizeUtf8(s) == s) << s;
  }
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));
  EXPECT_FALSE(IsValidUtf8("a\xFFz"));
}

TEST(JsonString, EscapesControlsQuotesAndReplacesInvalidUtf8) {
  std::string out;
  AppendJsonString("a\"b\\c\n\t\x01\x7f\xC3\xA9\xFF", &out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001\x7f\xC3\xA9\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace dsarl

#include "model/tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dsarl::model {
namespace {

using ::testing::ElementsAre;

TEST(Tokenizer, EncodeIsOneIdPerByte) {
  Tokenizer tok;
  EXPECT_THAT(tok.Encode("Hi\n"), ElementsAre('H', 'i', '\n'));
  // UTF-8 "é" is two bytes, and bytes >= 0x80 map to ids >= 128 (no sign extension).
  EXPECT_THAT(tok.Encode("\xC3\xA9"), ElementsAre(0xC3, 0xA9));
  EXPECT_TRUE(tok.Encode("").empty());
}

TEST(Tokenizer, EncodeLeavesSpecialTextAsBytes) {
  Tokenizer tok;
  const std::vector<int32_t> ids = tok.Encode("<eos>");
  EXPECT_EQ(ids.size(), 5u);
  for (int32_t id : ids) EXPECT_LT(id, 256);
}

TEST(Tokenizer, EncodeWithSpecialsRecognizesEveryToken) {
  Tokenizer tok;
  for (int32_t id = kFirstSpecialId; id < kNumTokens; ++id) {
    const std::string text = std::string(SpecialTokenText(id));
    EXPECT_THAT(tok.EncodeWithSpecials(text), ElementsAre(id)) << text;
  }
  EXPECT_THAT(tok.EncodeWithSpecials("a<think>b</think><eos>"),
              ElementsAre('a', kThinkId, 'b', kEndThinkId, kEosId));
  // A near-miss stays bytes.
  EXPECT_THAT(tok.EncodeWithSpecials("<eo>"), ElementsAre('<', 'e', 'o', '>'));
}

TEST(Tokenizer, EncodeWithSpecialsMarkupReadsAsSpec) {
  Tokenizer tok;
  const std::vector<int32_t> ids =
      tok.EncodeWithSpecials("<invoke name=\"f\"><parameter name=\"k\">v</parameter></invoke>");
  EXPECT_THAT(ids, ElementsAre(kInvokeId, 'f', '"', '>', kParameterId, 'k', '"', '>', 'v',
                               kEndParameterId, kEndInvokeId));
  EXPECT_EQ(tok.Decode(ids), "<invoke name=\"f\"><parameter name=\"k\">v</parameter></invoke>");
}

TEST(Tokenizer, DecodeRoundTripsAllBytes) {
  Tokenizer tok;
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(tok.Decode(tok.Encode(all)), all);
}

TEST(Tokenizer, DecodeNeverFailsOnOddIds) {
  Tokenizer tok;
  EXPECT_EQ(tok.Decode({'a', kEosId, 300, -1, 99999}),
            "a<eos><unused:300><unused:-1><unused:99999>");
}

TEST(Tokenizer, DecodeForDisplayRepairsInvalidUtf8) {
  Tokenizer tok;
  // A lone continuation byte, a truncated 3-byte sequence, then valid text.
  const std::vector<int32_t> ids = {0x80, 'a', 0xE2, 0x82, 'b', 0xC3, 0xA9};
  EXPECT_EQ(tok.Decode(ids),
            "\x80"
            "a\xE2\x82"
            "b\xC3\xA9");  // raw bytes kept
  EXPECT_EQ(tok.DecodeForDisplay(ids),
            "\xEF\xBF\xBD"
            "a\xEF\xBF\xBD"
            "b\xC3\xA9");
}

TEST(Tokenizer, TokenToStringForDisplay) {
  Tokenizer tok;
  EXPECT_EQ(tok.TokenToString('x'), "x");
  EXPECT_EQ(tok.TokenToString('\n'), "\\n");
  EXPECT_EQ(tok.TokenToString(0xE9), "<0xE9>");
  EXPECT_EQ(tok.TokenToString(0), "<0x00>");
  EXPECT_EQ(tok.TokenToString(kAssistantId), "<|Assistant|>");
  EXPECT_EQ(tok.TokenToString(kNumTokens), "<unused:273>");
}

TEST(Tokenizer, IdTableFitsTinyVocab) {
  EXPECT_LE(kNumTokens, kMaxVocabSize);
  EXPECT_TRUE(IsSpecialToken(kEndResultId));
  EXPECT_FALSE(IsSpecialToken(255));
  EXPECT_FALSE(IsKnownToken(kNumTokens));
  EXPECT_EQ(SpecialTokenText('a'), "");
  Tokenizer tok;
  EXPECT_EQ(tok.size(), kNumTokens);
}

}  // namespace
}  // namespace dsarl::model

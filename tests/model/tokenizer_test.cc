#include "model/tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/chat_format.h"
#include "model/hf_tokenizer_files.h"
#include "tests/model/small_bpe.h"
#include "tests/status_matchers.h"

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

// The small BPE tokenizer with SPEC §4's chat tokens (from id 257), or only <bos> and <eos>.
std::string SmallBpeJson(bool chat) {
  std::vector<std::string> added;
  for (int32_t id = kFirstSpecialId; id < kNumTokens; ++id) {
    if (chat || id == kBosId || id == kEosId) added.emplace_back(SpecialTokenText(id));
  }
  return testing::SmallBpeJson(added);
}

TEST(TokenizerFile, TheByteTokenizersOwnFileReadsBackAsBytes) {
  ASSERT_OK_AND_ASSIGN(Tokenizer t, Tokenizer::FromJsonText(ByteTokenizerJson(), "t.json"));
  EXPECT_TRUE(t.is_bytes());
  EXPECT_EQ(t.size(), kNumTokens);
  EXPECT_EQ(t.chat().eos, kEosId);
}

TEST(TokenizerFile, ABpeFileGivesItsIdsAndChatTokens) {
  ASSERT_OK_AND_ASSIGN(Tokenizer t, Tokenizer::FromJsonText(SmallBpeJson(true), "t.json"));
  EXPECT_FALSE(t.is_bytes());
  EXPECT_EQ(t.name(), "t.json");
  EXPECT_EQ(t.size(), 257 + (kNumTokens - kFirstSpecialId));
  EXPECT_EQ(t.chat().pad, 257);
  EXPECT_EQ(t.chat().bos, 258);
  EXPECT_EQ(t.chat().end_result, 257 + (kEndResultId - kFirstSpecialId));
  EXPECT_OK(t.CheckChatTokens("sft"));
  EXPECT_EQ(t.Encode("hello"), (std::vector<int32_t>{256, 'l', 'l', 'o'}));
  EXPECT_EQ(t.Encode("<eos>").size(), 5u);  // untrusted text never becomes markup
  EXPECT_EQ(t.EncodeWithSpecials("<eos>"), (std::vector<int32_t>{t.chat().eos}));
  EXPECT_EQ(t.Decode(t.EncodeWithSpecials("he<eos>")), "he<eos>");
  EXPECT_EQ(t.HfJson(), SmallBpeJson(true));
  // A conversation renders with this tokenizer's markup ids and merges.
  Conversation c;
  c.messages.push_back(Message::User("hey"));
  c.messages.push_back(Message::Assistant("hm", "he"));
  RenderOptions options;
  options.tokenizer = &t;
  ASSERT_OK_AND_ASSIGN(RenderedTokens r, RenderConversation(c, options));
  EXPECT_EQ(r.ids.front(), t.chat().bos);
  EXPECT_EQ(r.ids.back(), t.chat().eos);
  EXPECT_EQ(t.Decode(r.ids), "<bos><|User|>hey<|Assistant|><think>hm</think>he<eos>");
  EXPECT_NE(std::find(r.ids.begin(), r.ids.end(), 256), r.ids.end());
}

TEST(TokenizerFile, AFileWithoutTheChatTokensIsRefusedForConversations) {
  ASSERT_OK_AND_ASSIGN(Tokenizer t, Tokenizer::FromJsonText(SmallBpeJson(false), "plain.json"));
  EXPECT_EQ(t.chat().bos, 257);
  EXPECT_EQ(t.chat().user, -1);
  Conversation c;
  c.messages.push_back(Message::User("hi"));
  RenderOptions options;
  options.tokenizer = &t;
  const absl::Status s = RenderConversation(c, options).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("plain.json lacks \"<pad>\", \"<|User|>\""));
  EXPECT_FALSE(Tokenizer::FromJsonText("{", "broken.json").ok());
}

}  // namespace
}  // namespace dsarl::model

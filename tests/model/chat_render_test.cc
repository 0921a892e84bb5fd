// RenderChat: SPEC §4's format and DeepSeek-V3.2's encoding as ids of a tokenizer.json. The V3.2
// markup's special tokens become single ids, the same text in content stays ordinary tokens, the
// ids decode back to the encoder's text, and a tokenizer without the V3.2 tokens is refused.
#include "model/chat_render.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/small_bpe.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

using ::testing::HasSubstr;

Tokenizer DeepSeekLike() {
  absl::StatusOr<Tokenizer> t = Tokenizer::FromJsonText(
      testing::SmallBpeJson({std::string(kDsv32Bos), std::string(kDsv32Eos),
                             std::string(kDsv32User), std::string(kDsv32Assistant),
                             std::string(kDsv32Think), std::string(kDsv32EndThink)}),
      "deepseek.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

Conversation Chat() {
  Conversation c;
  c.messages.push_back(Message::User("hello <｜end▁of▁sentence｜>"));
  c.messages.push_back(Message::Assistant("hm", "he said"));
  return c;
}

TEST(ChatRender, Dsv32IdsDecodeToTheEncodersText) {
  const Tokenizer tok = DeepSeekLike();
  ASSERT_OK_AND_ASSIGN(RenderedTokens r, RenderChat(Chat(), ChatFormat::kDsv32, tok, false));
  ASSERT_OK_AND_ASSIGN(std::vector<ChatSegment> segments, RenderDsv32Conversation(Chat()));
  EXPECT_EQ(tok.Decode(r.ids), JoinSegments(segments));
  EXPECT_EQ(r.ids.size(), r.loss_mask.size());
  const int32_t eos = ChatEndOfTurnId(ChatFormat::kDsv32, tok);
  EXPECT_EQ(eos, tok.TokenId(kDsv32Eos));
  EXPECT_EQ(r.ids.front(), tok.TokenId(kDsv32Bos));
  EXPECT_EQ(r.ids.back(), eos);
  EXPECT_EQ(r.loss_mask.back(), 1);
  // The user's "<｜end▁of▁sentence｜>" is content: the only eos id is the turn's own.
  EXPECT_EQ(std::count(r.ids.begin(), r.ids.end(), eos), 1);
  EXPECT_NE(std::find(r.ids.begin(), r.ids.end(), 256), r.ids.end());  // "he" merged
}

TEST(ChatRender, Dsv32GenerationPromptEndsWithThink) {
  const Tokenizer tok = DeepSeekLike();
  Conversation c;
  c.messages.push_back(Message::User("hi"));
  ASSERT_OK_AND_ASSIGN(RenderedTokens r, RenderChat(c, ChatFormat::kDsv32, tok, true));
  ASSERT_GE(r.ids.size(), 2u);
  EXPECT_EQ(r.ids[r.ids.size() - 2], tok.TokenId(kDsv32Assistant));
  EXPECT_EQ(r.ids.back(), tok.TokenId(kDsv32Think));
  EXPECT_EQ(std::count(r.loss_mask.begin(), r.loss_mask.end(), 1), 0);
}

TEST(ChatRender, Dsv32NeedsItsSpecialTokens) {
  const absl::Status bytes = RenderChat(Chat(), ChatFormat::kDsv32, Tokenizer(), false).status();
  EXPECT_EQ(bytes.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bytes.message(), HasSubstr("needs the token \"<｜begin▁of▁sentence｜>\""));
}

TEST(ChatRender, SpecFormatIsRenderConversation) {
  ASSERT_OK_AND_ASSIGN(RenderedTokens a, RenderChat(Chat(), ChatFormat::kSpec, Tokenizer(), false));
  ASSERT_OK_AND_ASSIGN(RenderedTokens b, RenderConversation(Chat()));
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.loss_mask, b.loss_mask);
  EXPECT_EQ(ChatEndOfTurnId(ChatFormat::kSpec, Tokenizer()), kEosId);
}

TEST(ChatRender, FormatNames) {
  ASSERT_OK_AND_ASSIGN(ChatFormat f, ParseChatFormat("dsv32", "model.chat_format"));
  EXPECT_EQ(f, ChatFormat::kDsv32);
  EXPECT_THAT(ParseChatFormat("chatml", "model.chat_format").status().message(),
              HasSubstr("model.chat_format: 'chatml' is not a chat format"));
}

}  // namespace
}  // namespace dsarl::model

#include "model/chat_render.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace dsarl::model {

absl::StatusOr<ChatFormat> ParseChatFormat(absl::string_view name, absl::string_view field) {
  if (name == "spec" || name.empty()) return ChatFormat::kSpec;
  if (name == "dsv32") return ChatFormat::kDsv32;
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": '", name,
                   "' is not a chat format; expected spec (SPEC §4) or dsv32 (DeepSeek-V3.2)"));
}

absl::StatusOr<RenderedTokens> TokenizeDsv32Segments(absl::Span<const ChatSegment> segments,
                                                     const Tokenizer& tok) {
  for (absl::string_view special :
       {kDsv32Bos, kDsv32Eos, kDsv32User, kDsv32Assistant, kDsv32Think, kDsv32EndThink}) {
    if (tok.TokenId(special) < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the dsv32 chat format needs the token \"", special, "\", and the tokenizer ", tok.name(),
          " has none (use DeepSeek-V3.2's tokenizer.json, or add it)"));
    }
  }
  RenderedTokens out;
  for (const ChatSegment& s : segments) {
    out.Append(s.markup ? tok.EncodeWithSpecials(s.text) : tok.Encode(s.text), s.loss_mask);
  }
  return out;
}

absl::StatusOr<RenderedTokens> RenderChat(const Conversation& conversation, ChatFormat format,
                                          const Tokenizer& tok, bool for_generation) {
  if (format == ChatFormat::kSpec) {
    RenderOptions options;
    options.tokenizer = &tok;
    return for_generation ? RenderForGeneration(conversation, options)
                          : RenderConversation(conversation, options);
  }
  ASSIGN_OR_RETURN(std::vector<ChatSegment> segments, for_generation
                                                          ? RenderDsv32ForGeneration(conversation)
                                                          : RenderDsv32Conversation(conversation));
  return TokenizeDsv32Segments(segments, tok);
}

int32_t ChatEndOfTurnId(ChatFormat format, const Tokenizer& tok) {
  return format == ChatFormat::kSpec ? tok.chat().eos : tok.TokenId(kDsv32Eos);
}

}  // namespace dsarl::model

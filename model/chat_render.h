// A conversation to token ids in the chat format a model was trained with: SPEC §4's own markup
// (model/chat_format.h) or DeepSeek-V3.2's published encoding (model/chat_format_dsv32.h). Why one
// entry point: SFT, `generate --chat` and whatever renders prompts must agree on the format, and
// the V3.2 encoding yields text segments that still need the model's tokenizer.
#ifndef DSARL_MODEL_CHAT_RENDER_H_
#define DSARL_MODEL_CHAT_RENDER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/chat_format.h"
#include "model/chat_format_dsv32.h"
#include "model/tokenizer.h"

namespace dsarl::model {

enum class ChatFormat { kSpec, kDsv32 };

// "spec" or "dsv32"; InvalidArgument naming `field` for anything else.
absl::StatusOr<ChatFormat> ParseChatFormat(absl::string_view name, absl::string_view field);

// Segments to ids: template markup through EncodeWithSpecials (its special-token text becomes the
// tokenizer's tokens), content through Encode (never markup), each segment on its own, each id
// with its segment's loss mask. FailedPrecondition naming the token when the tokenizer lacks one
// of the V3.2 encoding's special tokens (without them the markup would be ordinary text and the
// model could not end a turn).
absl::StatusOr<RenderedTokens> TokenizeDsv32Segments(absl::Span<const ChatSegment> segments,
                                                     const Tokenizer& tok);

// A whole conversation for training (RenderConversation / RenderDsv32Conversation), or a prompt
// for generation (RenderForGeneration / RenderDsv32ForGeneration), as ids of `tok`.
absl::StatusOr<RenderedTokens> RenderChat(const Conversation& conversation, ChatFormat format,
                                          const Tokenizer& tok, bool for_generation);

// The id that ends an assistant turn in `format` ("<eos>" or "<｜end▁of▁sentence｜>"); -1 when
// `tok` has no such token.
int32_t ChatEndOfTurnId(ChatFormat format, const Tokenizer& tok);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_CHAT_RENDER_H_

// Byte-level tokenizer: every byte is a token, plus the special tokens of the chat format (SPEC
// §4). Why bytes: the tiny and small models train from scratch, so a learned merge table buys
// little and costs a dependency; bytes also make every string encodable and every id sequence
// decodable.
//
// Id table (kNumTokens = 273 ids in use; a model's vocab may be larger, up to kMaxVocabSize = 320,
// and ids kNumTokens..vocab-1 are unused: they decode to "<unused:ID>"):
//
//   id       text                  role
//   0..255   the byte itself       ordinary text (UTF-8 or not)
//   256      <pad>                 padding; never inside a real sequence
//   257      <bos>                 start of a conversation
//   258      <eos>                 end of an assistant turn
//   259      <|User|>              a user message follows
//   260      <|Assistant|>         an assistant turn follows
//   261      <think>               reasoning follows
//   262      </think>              reasoning ends; the visible answer follows
//   263      <function_calls>      a block of tool calls follows
//   264      </function_calls>
//   265      <invoke name="        one call: the tool name follows, then the bytes `">`
//   266      </invoke>
//   267      <parameter name="     one argument: name, `">`, value
//   268      </parameter>
//   269      <function_results>    tool output (context, written by the harness)
//   270      </function_results>
//   271      <result>              the output of one call, in call order
//   272      </result>
//
// The invoke/parameter tokens include `name="` so that decoded text reads exactly as SPEC §4 shows.
#ifndef DSARL_MODEL_TOKENIZER_H_
#define DSARL_MODEL_TOKENIZER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "base/utf8.h"

namespace dsarl::model {

inline constexpr int32_t kPadId = 256;
inline constexpr int32_t kBosId = 257;
inline constexpr int32_t kEosId = 258;
inline constexpr int32_t kUserId = 259;
inline constexpr int32_t kAssistantId = 260;
inline constexpr int32_t kThinkId = 261;
inline constexpr int32_t kEndThinkId = 262;
inline constexpr int32_t kFunctionCallsId = 263;
inline constexpr int32_t kEndFunctionCallsId = 264;
inline constexpr int32_t kInvokeId = 265;
inline constexpr int32_t kEndInvokeId = 266;
inline constexpr int32_t kParameterId = 267;
inline constexpr int32_t kEndParameterId = 268;
inline constexpr int32_t kFunctionResultsId = 269;
inline constexpr int32_t kEndFunctionResultsId = 270;
inline constexpr int32_t kResultId = 271;
inline constexpr int32_t kEndResultId = 272;
inline constexpr int32_t kFirstSpecialId = kPadId;
// Ids in use; a model's vocab_size must be at least this.
inline constexpr int32_t kNumTokens = 273;
// The `tiny` vocab_size, which the id table must fit in; new special tokens go below it.
inline constexpr int32_t kMaxVocabSize = 320;

// True for 0 <= id < kNumTokens.
bool IsKnownToken(int32_t id);
// True for kFirstSpecialId <= id < kNumTokens.
bool IsSpecialToken(int32_t id);
// The literal text of a special token ("<eos>"); "" for any other id.
absl::string_view SpecialTokenText(int32_t id);

// Stateless; cheap to copy. All methods are thread-safe.
class Tokenizer {
 public:
  // One id per byte of `text`; special token text ("<eos>") written in the text stays bytes. Use
  // this for anything a user, tool or environment wrote, so it can never forge markup.
  std::vector<int32_t> Encode(absl::string_view text) const;

  // Like Encode, but the exact text of a special token ("<think>", `<invoke name="`) becomes that
  // token (longest match at each position). Only for trusted text, e.g. reference solutions
  // written in the chat format.
  std::vector<int32_t> EncodeWithSpecials(absl::string_view text) const;

  // Concatenates bytes as they are (invalid UTF-8 passes through unchanged, so Decode(Encode(s)) ==
  // s for every s), special tokens as their text, and any other id (unused, negative, too large)
  // as "<unused:ID>". Never fails.
  std::string Decode(absl::Span<const int32_t> ids) const;

  // Decode, then SanitizeUtf8: always valid UTF-8, for display and logs.
  std::string DecodeForDisplay(absl::Span<const int32_t> ids) const;

  // One token for display: printable ASCII as itself, '\n' '\t' '\r' '\\' as C escapes, other
  // bytes as "<0xAB>", specials as their text, anything else as "<unused:ID>".
  std::string TokenToString(int32_t id) const;

  // Number of ids in use (kNumTokens).
  int32_t size() const { return kNumTokens; }
};

}  // namespace dsarl::model

#endif  // DSARL_MODEL_TOKENIZER_H_

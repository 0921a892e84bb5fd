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
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

class BpeTokenizer;

// The ids of SPEC §4's chat markup in a tokenizer (the byte tokenizer's constants above, or the
// added tokens of the same texts in a tokenizer.json); -1 where the tokenizer has no such token.
// A tokenizer.json without "<bos>", "<eos>" or "<pad>" gives DeepSeek's "<｜begin▁of▁sentence｜>",
// "<｜end▁of▁sentence｜>" and "<｜▁pad▁｜>" for them, when it has those.
struct ChatTokenIds {
  int32_t pad = kPadId, bos = kBosId, eos = kEosId, user = kUserId, assistant = kAssistantId;
  int32_t think = kThinkId, end_think = kEndThinkId;
  int32_t function_calls = kFunctionCallsId, end_function_calls = kEndFunctionCallsId;
  int32_t invoke = kInvokeId, end_invoke = kEndInvokeId;
  int32_t parameter = kParameterId, end_parameter = kEndParameterId;
  int32_t function_results = kFunctionResultsId, end_function_results = kEndFunctionResultsId;
  int32_t result = kResultId, end_result = kEndResultId;
};

// The byte tokenizer (default-constructed), or a Hugging Face tokenizer.json with a byte-level
// BPE model (model/bpe_tokenizer.h). Cheap to copy (a shared, immutable table); all methods are
// thread-safe.
class Tokenizer {
 public:
  Tokenizer() = default;  // the byte tokenizer

  // A tokenizer.json: the byte tokenizer's own (as checkpoints write it, hf_tokenizer_files.h)
  // reads back as the byte tokenizer, anything else as BPE. Errors name `source` and the field.
  static absl::StatusOr<Tokenizer> FromJsonText(std::string text, const std::string& source);
  static absl::StatusOr<Tokenizer> FromFile(const std::string& path);
  // The tokenizer of checkpoint DIR: DIR/tokenizer.json, or the byte tokenizer when there is none
  // (checkpoints written before tokenizer files were).
  static absl::StatusOr<Tokenizer> ForCheckpoint(const std::string& dir);

  bool is_bytes() const { return bpe_ == nullptr; }
  // "bytes", or the file it was read from.
  std::string name() const;
  const ChatTokenIds& chat() const { return chat_; }
  // OK when every token of SPEC §4's chat markup exists; FailedPrecondition naming the missing
  // ones and `what` needs them otherwise.
  absl::Status CheckChatTokens(absl::string_view what) const;
  // tokenizer.json text to write beside a checkpoint's weights.
  std::string HfJson() const;
  // The text of token `id` ("" for none); for tokenizer_config.json.
  std::string TokenText(int32_t id) const;
  // The id of the token whose text is exactly `text` (a special or added token, or a vocabulary
  // entry), or -1.
  int32_t TokenId(absl::string_view text) const;

  // One id per byte of `text` (BPE: the merged ids); special token text ("<eos>") written in the
  // text stays ordinary text. Use this for anything a user, tool or environment wrote, so it can
  // never forge markup.
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
  // bytes as "<0xAB>", specials as their text, anything else as "<unused:ID>". (BPE: the token's
  // text, made valid UTF-8.)
  std::string TokenToString(int32_t id) const;

  // Number of ids in use: kNumTokens for bytes, the vocabulary size of a tokenizer.json.
  int32_t size() const;

 private:
  std::shared_ptr<const BpeTokenizer> bpe_;  // null: bytes
  std::shared_ptr<const std::string> json_;  // the tokenizer.json text of bpe_
  std::string source_;
  ChatTokenIds chat_;
};

}  // namespace dsarl::model

#endif  // DSARL_MODEL_TOKENIZER_H_

// A Hugging Face tokenizer.json with a byte-level BPE model, as DeepSeek-V3 (and GPT-2, Llama 3,
// Qwen) ship theirs: loaded with our strict JSON reader, every field checked, and encoding that
// gives the ids Hugging Face's `tokenizers` gives. Why our own and not a binding of the Rust
// library: that would bring a Rust toolchain into the build, and a loader that refuses what it
// does not implement (naming the field) is safer than one that silently tokenizes differently.
//
// What is supported (anything else is InvalidArgument "<source>: <field path>: <why>"):
//   model            BPE: vocab, merges (["a b", ...] or [["a", "b"], ...]), ignore_merges;
//                    dropout null/0, byte_fallback false, no subword prefix/suffix; the vocab
//                    must hold all 256 byte-level characters (so no byte is ever unknown).
//   added_tokens     id, content, special, normalized, lstrip, rstrip; single_word must be false.
//   normalizer       null (or an empty Sequence).
//   pre_tokenizer    ByteLevel, Split (Regex or String pattern, any behavior, invert), Digits,
//                    and Sequence of those; exactly one ByteLevel, as the last step.
//   post_processor   null, ByteLevel (offsets only: nothing to do), TemplateProcessing (its
//                    single-sequence tokens are recorded in template_prefix/suffix, never added
//                    by Encode), Sequence of those.
//   decoder          ByteLevel, or a Sequence of ByteLevel.
//   truncation, padding: null.
// The pre-tokenizer's regexes are Oniguruma patterns; they are rewritten where PCRE2 reads an
// escape differently (\s \w \h \v, see bpe::OnigToPcre2) and compiled once by PCRE2 (UTF, UCP,
// JIT). Their classes agree with Oniguruma's on every code point PCRE2's Unicode tables assign
// (a test sweeps them); text with code points assigned later (PCRE2 10.42 has Unicode 14, so
// e.g. CJK Extension H) may split differently from `tokenizers`.
//
// Text that is not valid UTF-8 (Hugging Face only ever sees Rust strings) is first made valid the
// way Python's bytes.decode("utf-8", errors="replace") does: each maximal invalid subpart becomes
// U+FFFD. So Encode(b) equals `tokenizers`' encoding of b.decode("utf-8", "replace").
#ifndef DSARL_MODEL_BPE_TOKENIZER_H_
#define DSARL_MODEL_BPE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/bpe_added_tokens.h"

namespace dsarl::model {

using BpeAddedToken = bpe::AddedToken;

struct BpeTokenizerOptions {
  // Pre-tokens (up to 64 bytes) whose ids are remembered, shared by all threads; 0: none. When
  // full, a shard of the cache is emptied, so memory stays bounded.
  int cache_entries = 1 << 16;
};

// Cheap to copy: copies share the (immutable) tables and the cache. All const methods are
// thread-safe.
class BpeTokenizer {
 public:
  // Largest id accepted in a vocab or added token (vocab_size <= kMaxIds).
  static constexpr int32_t kMaxIds = 1 << 20;
  // Largest tokenizer.json FromFile reads. [bytes]
  static constexpr int64_t kMaxFileBytes = 256 << 20;

  // Parses a tokenizer.json document; `source` names it in error messages. InvalidArgument for
  // malformed JSON ("<source>: line L, column C ...") and for anything unsupported or
  // inconsistent: duplicate or out-of-range ids, merges of tokens not in the vocab or whose
  // result is not in it, an added token whose id disagrees with the vocab.
  static absl::StatusOr<BpeTokenizer> FromJson(absl::string_view json_text,
                                               absl::string_view source,
                                               const BpeTokenizerOptions& options = {});
  // Reads `path` (NotFound when missing, InvalidArgument past kMaxFileBytes), then FromJson.
  static absl::StatusOr<BpeTokenizer> FromFile(const std::string& path,
                                               const BpeTokenizerOptions& options = {});

  // The ids of `text` with no added token recognized: "<｜User｜>" written in the text is
  // ordinary bytes. Safe for anything a user, tool or environment wrote. Equals `tokenizers`
  // with encode_special_tokens=True when every added token is special.
  std::vector<int32_t> Encode(absl::string_view text) const;

  // Added tokens recognized first (leftmost-longest, lstrip/rstrip applied; the non-normalized
  // ones, then the normalized ones in the text between), the rest encoded as by Encode. Equals
  // `tokenizers`' encode(text, add_special_tokens=False).ids. Only for trusted text.
  std::vector<int32_t> EncodeWithSpecials(absl::string_view text) const;

  // Concatenates the bytes of each token: a vocab token through the byte-level alphabet, an added
  // token as its content (Hugging Face's ByteLevel decoder rule: a token with any character
  // outside the alphabet is its own UTF-8; one entirely inside it, such as "Ġx", is mapped like
  // a vocab token). Nothing is skipped, special tokens included. Bytes are returned raw, so a
  // cut multi-byte character stays invalid UTF-8 (Hugging Face would write U+FFFD): Decode of
  // the concatenation of two id lists is the concatenation of their Decodes. An id that names no
  // token (negative, >= vocab_size, or a gap in the vocab) becomes the text "<unused:ID>"
  // (Hugging Face skips it). Never fails. Decode(Encode(s)) == s for valid UTF-8 s.
  std::string Decode(absl::Span<const int32_t> ids) const;

  // Max id + 1 over the vocab and the added tokens.
  int32_t vocab_size() const;
  // The id of a vocab token (in byte-level form, "Ġhello") or an added token's content.
  std::optional<int32_t> TokenId(absl::string_view token) const;
  // The token as tokenizer.json writes it ("Ġhello", "<｜User｜>"); "" for an id that names none.
  std::string TokenText(int32_t id) const;
  // True for an added token marked special.
  bool IsSpecial(int32_t id) const;
  // The added tokens in tokenizer.json's order.
  const std::vector<BpeAddedToken>& added_tokens() const;

  // The ids a TemplateProcessing post-processor puts before / after a single sequence when
  // `tokenizers` is asked for add_special_tokens=True (DeepSeek's BOS); empty without one.
  // Encode never adds them; callers that want a BOS prepend template_prefix().
  const std::vector<int32_t>& template_prefix() const;
  const std::vector<int32_t>& template_suffix() const;

  // Number of entries in the shared cache now (for tests and benchmarks).
  size_t cache_size() const;

  // The loaded tables; defined in bpe_tokenizer_state.h, for the loader and the encoder only.
  struct State;

 private:
  struct EncodeWork;  // scratch space of one Encode call
  explicit BpeTokenizer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  void EncodeText(absl::string_view text, EncodeWork* work, std::vector<int32_t>* ids) const;

  std::shared_ptr<State> state_;  // never null; only its cache changes after loading
};

}  // namespace dsarl::model

#endif  // DSARL_MODEL_BPE_TOKENIZER_H_

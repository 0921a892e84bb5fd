// Finding a tokenizer's added tokens (special tokens such as "<｜User｜>") in text, as Hugging
// Face's AddedVocabulary does before pre-tokenization: leftmost-longest matches, with the
// whitespace that lstrip / rstrip tokens absorb.
#ifndef DSARL_MODEL_BPE_ADDED_TOKENS_H_
#define DSARL_MODEL_BPE_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace dsarl::model::bpe {

// One entry of tokenizer.json's added_tokens (single_word is refused at load).
struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;      // a match also takes the whitespace before it
  bool rstrip = false;      // ... and after it
  bool normalized = false;  // matched after the normalizer (ours is the identity)
};

// A piece of text split around added tokens: either plain text or one added token.
struct AddedSegment {
  size_t begin;
  size_t end;
  int32_t token = -1;  // index into the token list the matcher was built from; -1 for text
};

class AddedTokenMatcher {
 public:
  // Indexes `tokens[i]` for each i in `indices` (contents non-empty, distinct). `tokens` must
  // outlive the matcher.
  AddedTokenMatcher(const std::vector<AddedToken>* tokens, const std::vector<int32_t>& indices);
  AddedTokenMatcher() = default;

  bool empty() const { return nodes_.size() <= 1; }

  // Splits text[begin, end) (valid UTF-8) into segments appended to `out`, offsets into `text`:
  // scanning left to right, the longest token starting at the leftmost position matches; an
  // lstrip token extends left over the whitespace before it (not past the previous token), an
  // rstrip one right over the whitespace after it; the text between matches stays text
  // (non-empty segments only). Whitespace is Unicode White_Space (Rust's char::is_whitespace).
  void Split(absl::string_view text, size_t begin, size_t end,
             std::vector<AddedSegment>* out) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t token = -1;
  };
  // The token index and length of the longest token starting at text[i], or {-1, 0}.
  std::pair<int32_t, size_t> LongestAt(absl::string_view text, size_t i, size_t end) const;

  const std::vector<AddedToken>* tokens_ = nullptr;
  std::vector<Node> nodes_;
  std::array<bool, 256> first_byte_{};
};

}  // namespace dsarl::model::bpe

#endif  // DSARL_MODEL_BPE_ADDED_TOKENS_H_

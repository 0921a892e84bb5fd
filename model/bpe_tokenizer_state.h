// The tables behind a BpeTokenizer, shared by its loader (bpe_tokenizer_json.cc) and its
// encoder (bpe_tokenizer.cc). Internal: include only from those two files.
#ifndef DSARL_MODEL_BPE_TOKENIZER_STATE_H_
#define DSARL_MODEL_BPE_TOKENIZER_STATE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"
#include "model/bpe_added_tokens.h"
#include "model/bpe_merges.h"
#include "model/bpe_pretokenizer.h"
#include "model/bpe_tokenizer.h"

namespace dsarl::model {
namespace bpe {

// Pre-token bytes -> ids, bounded, safe for concurrent use: 16 shards, each behind its own mutex
// and emptied when it reaches its share of the capacity.
class PieceCache {
 public:
  static constexpr size_t kMaxPieceBytes = 64;
  explicit PieceCache(int capacity);
  // Appends the ids of `piece` to `ids` and returns true when cached.
  bool Lookup(absl::string_view piece, std::vector<int32_t>* ids) const;
  void Insert(absl::string_view piece, absl::Span<const int32_t> ids) const;
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    absl::flat_hash_map<std::string, absl::InlinedVector<int32_t, 4>> map;  // guarded by mu
  };
  std::unique_ptr<Shard[]> shards_;
  size_t per_shard_;
};

enum class TokenKind : uint8_t { kNone, kVocab, kAdded, kSpecial };

}  // namespace bpe

struct BpeTokenizer::State {
  // By id, vocab_size entries each.
  std::vector<std::string> token_text;   // as tokenizer.json writes it; "" for none
  std::vector<std::string> token_bytes;  // what Decode writes
  std::vector<bpe::TokenKind> kind;
  // Vocab tokens (byte-level form) and added token contents -> id.
  absl::flat_hash_map<std::string, int32_t> token_ids;
  // Raw bytes of every vocab token in the byte-level alphabet -> id (for ignore_merges).
  absl::flat_hash_map<std::string, int32_t> byte_token_ids;
  std::array<int32_t, 256> byte_ids{};  // the vocab token of each single byte
  bool ignore_merges = false;
  bpe::MergeTable merges;
  bpe::PreTokenizer pre_tokenizer;
  std::vector<bpe::AddedToken> added;
  // Over `added` (so State is never moved once they are built): matched before / after the
  // (identity) normalizer.
  bpe::AddedTokenMatcher raw_matcher;
  bpe::AddedTokenMatcher normalized_matcher;
  std::vector<int32_t> template_prefix;
  std::vector<int32_t> template_suffix;
  std::unique_ptr<bpe::PieceCache> cache;  // null when disabled
};

}  // namespace dsarl::model

#endif  // DSARL_MODEL_BPE_TOKENIZER_STATE_H_

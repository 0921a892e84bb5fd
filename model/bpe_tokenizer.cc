// Encoding and decoding with a loaded byte-level BPE (the loader is bpe_tokenizer_json.cc).
// Per call: make the text valid UTF-8, split off added tokens (EncodeWithSpecials only),
// pre-tokenize each stretch of text, and merge each pre-token's bytes, through the shared cache.
#include "model/bpe_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "base/utf8.h"
#include "model/bpe_tokenizer_state.h"

namespace dsarl::model {
namespace bpe {

PieceCache::PieceCache(int capacity)
    : shards_(new Shard[kShards]), per_shard_(std::max<size_t>(1, capacity / kShards)) {}

bool PieceCache::Lookup(absl::string_view piece, std::vector<int32_t>* ids) const {
  const Shard& shard = shards_[absl::HashOf(piece) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.map.find(piece);
  if (it == shard.map.end()) return false;
  ids->insert(ids->end(), it->second.begin(), it->second.end());
  return true;
}

void PieceCache::Insert(absl::string_view piece, absl::Span<const int32_t> ids) const {
  Shard& shard = shards_[absl::HashOf(piece) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.map.size() >= per_shard_) shard.map.clear();
  shard.map.try_emplace(piece, ids.begin(), ids.end());
}

size_t PieceCache::size() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    n += shards_[i].map.size();
  }
  return n;
}

}  // namespace bpe

struct BpeTokenizer::EncodeWork {
  bpe::PreTokens pre;
  std::vector<int32_t> word;
};

void BpeTokenizer::EncodeText(absl::string_view text, EncodeWork* work,
                              std::vector<int32_t>* ids) const {
  const State& s = *state_;
  s.pre_tokenizer.Split(text, &work->pre);
  for (const bpe::Span& span : work->pre.spans()) {
    const absl::string_view piece = work->pre.piece(span);
    if (s.ignore_merges) {
      auto it = s.byte_token_ids.find(piece);
      if (it != s.byte_token_ids.end()) {
        ids->push_back(it->second);
        continue;
      }
    }
    const bool cacheable = s.cache != nullptr && piece.size() <= bpe::PieceCache::kMaxPieceBytes;
    if (cacheable && s.cache->Lookup(piece, ids)) continue;
    work->word.clear();
    for (char c : piece) work->word.push_back(s.byte_ids[uint8_t(c)]);
    s.merges.Merge(&work->word);
    ids->insert(ids->end(), work->word.begin(), work->word.end());
    if (cacheable) s.cache->Insert(piece, work->word);
  }
}

std::vector<int32_t> BpeTokenizer::Encode(absl::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  EncodeWork work;
  if (IsValidUtf8(text)) {
    EncodeText(text, &work, &ids);
  } else {
    EncodeText(SanitizeUtf8(text), &work, &ids);
  }
  return ids;
}

std::vector<int32_t> BpeTokenizer::EncodeWithSpecials(absl::string_view text) const {
  const State& s = *state_;
  std::string sanitized;
  if (!IsValidUtf8(text)) {
    sanitized = SanitizeUtf8(text);
    text = sanitized;
  }
  std::vector<bpe::AddedSegment> segments, split;
  segments.push_back({0, text.size(), -1});
  // Hugging Face's two passes: tokens matched on the raw text, then, in the text between them,
  // tokens matched on the normalized text (the same text here: the normalizer is the identity).
  for (const bpe::AddedTokenMatcher* matcher : {&s.raw_matcher, &s.normalized_matcher}) {
    if (matcher->empty()) continue;
    split.clear();
    for (const bpe::AddedSegment& seg : segments) {
      if (seg.token >= 0) {
        split.push_back(seg);
      } else {
        matcher->Split(text, seg.begin, seg.end, &split);
      }
    }
    segments.swap(split);
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  EncodeWork work;
  for (const bpe::AddedSegment& seg : segments) {
    if (seg.token >= 0) {
      ids.push_back(s.added[seg.token].id);
    } else {
      EncodeText(text.substr(seg.begin, seg.end - seg.begin), &work, &ids);
    }
  }
  return ids;
}

std::string BpeTokenizer::Decode(absl::Span<const int32_t> ids) const {
  const State& s = *state_;
  std::string out;
  for (int32_t id : ids) {
    if (id >= 0 && id < vocab_size() && s.kind[id] != bpe::TokenKind::kNone) {
      out.append(s.token_bytes[id]);
    } else {
      absl::StrAppend(&out, "<unused:", id, ">");
    }
  }
  return out;
}

int32_t BpeTokenizer::vocab_size() const { return int32_t(state_->kind.size()); }

std::optional<int32_t> BpeTokenizer::TokenId(absl::string_view token) const {
  auto it = state_->token_ids.find(token);
  if (it == state_->token_ids.end()) return std::nullopt;
  return it->second;
}

std::string BpeTokenizer::TokenText(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  return state_->token_text[id];
}

bool BpeTokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && state_->kind[id] == bpe::TokenKind::kSpecial;
}

const std::vector<BpeAddedToken>& BpeTokenizer::added_tokens() const { return state_->added; }
const std::vector<int32_t>& BpeTokenizer::template_prefix() const {
  return state_->template_prefix;
}
const std::vector<int32_t>& BpeTokenizer::template_suffix() const {
  return state_->template_suffix;
}

size_t BpeTokenizer::cache_size() const {
  return state_->cache == nullptr ? 0 : state_->cache->size();
}

}  // namespace dsarl::model

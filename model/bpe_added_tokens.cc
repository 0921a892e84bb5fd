// A byte trie over the added tokens (a few hundred at most in practice); matches are found by
// trying each position, skipping quickly over bytes no token starts with.
#include "model/bpe_added_tokens.h"

#include <algorithm>

namespace dsarl::model::bpe {
namespace {

bool IsWhiteSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// The code point of the valid UTF-8 sequence at s[i] and its length.
std::pair<char32_t, size_t> DecodeAt(absl::string_view s, size_t i) {
  const uint8_t b = s[i];
  if (b < 0x80) return {b, 1};
  const size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
  char32_t cp = b & (0x7F >> len);
  for (size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (uint8_t(s[i + k]) & 0x3F);
  return {cp, len};
}

// Where the run of whitespace that ends at `end` starts (>= floor).
size_t WhitespaceRunStart(absl::string_view s, size_t floor, size_t end) {
  while (end > floor) {
    size_t start = end - 1;
    while (start > floor && (uint8_t(s[start]) & 0xC0) == 0x80) --start;
    if (!IsWhiteSpace(DecodeAt(s, start).first)) break;
    end = start;
  }
  return end;
}

// Where the run of whitespace that starts at `begin` ends (<= limit).
size_t WhitespaceRunEnd(absl::string_view s, size_t begin, size_t limit) {
  while (begin < limit) {
    const auto [cp, len] = DecodeAt(s, begin);
    if (!IsWhiteSpace(cp)) break;
    begin += len;
  }
  return begin;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>* tokens,
                                     const std::vector<int32_t>& indices)
    : tokens_(tokens), nodes_(1) {
  for (int32_t index : indices) {
    int32_t node = 0;
    for (char c : (*tokens)[index].content) {
      auto& children = nodes_[node].children;
      auto it = std::lower_bound(children.begin(), children.end(), uint8_t(c),
                                 [](const auto& e, uint8_t b) { return e.first < b; });
      if (it == children.end() || it->first != uint8_t(c)) {
        const int32_t child = int32_t(nodes_.size());
        it = children.insert(it, {uint8_t(c), child});
        nodes_.emplace_back();  // invalidates `children`, used no more
        node = child;
      } else {
        node = it->second;
      }
    }
    nodes_[node].token = index;
    first_byte_[uint8_t((*tokens)[index].content[0])] = true;
  }
}

std::pair<int32_t, size_t> AddedTokenMatcher::LongestAt(absl::string_view text, size_t i,
                                                        size_t end) const {
  std::pair<int32_t, size_t> best = {-1, 0};
  int32_t node = 0;
  for (size_t k = i; k < end; ++k) {
    const auto& children = nodes_[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), uint8_t(text[k]),
                               [](const auto& e, uint8_t b) { return e.first < b; });
    if (it == children.end() || it->first != uint8_t(text[k])) break;
    node = it->second;
    if (nodes_[node].token >= 0) best = {nodes_[node].token, k + 1 - i};
  }
  return best;
}

void AddedTokenMatcher::Split(absl::string_view text, size_t begin, size_t end,
                              std::vector<AddedSegment>* out) const {
  size_t text_start = begin;  // where the current run of plain text began
  size_t i = begin;
  while (i < end) {
    if (!first_byte_[uint8_t(text[i])]) {
      ++i;
      continue;
    }
    const auto [token, len] = LongestAt(text, i, end);
    if (token < 0) {
      ++i;
      continue;
    }
    const AddedToken& t = (*tokens_)[token];
    const size_t start = t.lstrip ? WhitespaceRunStart(text, text_start, i) : i;
    const size_t stop = t.rstrip ? WhitespaceRunEnd(text, i + len, end) : i + len;
    if (text_start < start) out->push_back({text_start, start, -1});
    out->push_back({start, stop, token});
    text_start = i = stop;
  }
  if (text_start < end) out->push_back({text_start, end, -1});
}

}  // namespace dsarl::model::bpe

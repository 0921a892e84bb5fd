// Byte-level tokenizer. Special tokens are looked up by their literal text only in
// EncodeWithSpecials; everything else is a plain byte map.
#include "model/tokenizer.h"

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dsarl::model {
namespace {

constexpr std::array<absl::string_view, kNumTokens - kFirstSpecialId> kSpecialTexts = {
    "<pad>",
    "<bos>",
    "<eos>",
    "<|User|>",
    "<|Assistant|>",
    "<think>",
    "</think>",
    "<function_calls>",
    "</function_calls>",
    "<invoke name=\"",
    "</invoke>",
    "<parameter name=\"",
    "</parameter>",
    "<function_results>",
    "</function_results>",
    "<result>",
    "</result>",
};

}  // namespace

bool IsKnownToken(int32_t id) { return id >= 0 && id < kNumTokens; }

bool IsSpecialToken(int32_t id) { return id >= kFirstSpecialId && id < kNumTokens; }

absl::string_view SpecialTokenText(int32_t id) {
  if (!IsSpecialToken(id)) return "";
  return kSpecialTexts[id - kFirstSpecialId];
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

std::vector<int32_t> Tokenizer::EncodeWithSpecials(absl::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    int32_t best = -1;
    size_t best_len = 0;
    if (text[i] == '<') {
      const absl::string_view rest = text.substr(i);
      for (int32_t id = kFirstSpecialId; id < kNumTokens; ++id) {
        const absl::string_view special = SpecialTokenText(id);
        if (special.size() > best_len && absl::StartsWith(rest, special)) {
          best = id;
          best_len = special.size();
        }
      }
    }
    if (best >= 0) {
      ids.push_back(best);
      i += best_len;
    } else {
      ids.push_back(static_cast<unsigned char>(text[i]));
      ++i;
    }
  }
  return ids;
}

std::string Tokenizer::Decode(absl::Span<const int32_t> ids) const {
  std::string out;
  out.reserve(ids.size());
  for (int32_t id : ids) {
    if (id >= 0 && id < 256) {
      out.push_back(static_cast<char>(id));
    } else if (IsSpecialToken(id)) {
      absl::StrAppend(&out, SpecialTokenText(id));
    } else {
      absl::StrAppend(&out, "<unused:", id, ">");
    }
  }
  return out;
}

std::string Tokenizer::DecodeForDisplay(absl::Span<const int32_t> ids) const {
  return SanitizeUtf8(Decode(ids));
}

std::string Tokenizer::TokenToString(int32_t id) const {
  if (IsSpecialToken(id)) return std::string(SpecialTokenText(id));
  if (id < 0 || id >= 256) return absl::StrCat("<unused:", id, ">");
  switch (id) {
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    case '\r':
      return "\\r";
    case '\\':
      return "\\\\";
    default:
      break;
  }
  if (id >= 0x20 && id < 0x7F) return std::string(1, static_cast<char>(id));
  constexpr char kHex[] = "0123456789ABCDEF";
  return absl::StrCat("<0x", std::string(1, kHex[id >> 4]), std::string(1, kHex[id & 15]), ">");
}

}  // namespace dsarl::model

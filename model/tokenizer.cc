// The byte tokenizer (special tokens looked up by their literal text only in EncodeWithSpecials;
// everything else a plain byte map), and the handle that dispatches to a tokenizer.json's BPE.
#include "model/tokenizer.h"

#include <array>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "model/bpe_tokenizer.h"
#include "model/hf_tokenizer_files.h"

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

namespace {

std::vector<int32_t> ByteEncode(absl::string_view text) {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

std::vector<int32_t> ByteEncodeWithSpecials(absl::string_view text) {
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

std::string ByteDecode(absl::Span<const int32_t> ids) {
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

std::string ByteTokenToString(int32_t id) {
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

}  // namespace

absl::StatusOr<Tokenizer> Tokenizer::FromJsonText(std::string text, const std::string& source) {
  Tokenizer t;
  if (text == ByteTokenizerJson()) return t;
  ASSIGN_OR_RETURN(BpeTokenizer bpe, BpeTokenizer::FromJson(text, source));
  t.bpe_ = std::make_shared<const BpeTokenizer>(std::move(bpe));
  t.json_ = std::make_shared<const std::string>(std::move(text));
  t.source_ = source;
  ChatTokenIds& c = t.chat_;
  int32_t* fields[] = {&c.pad,
                       &c.bos,
                       &c.eos,
                       &c.user,
                       &c.assistant,
                       &c.think,
                       &c.end_think,
                       &c.function_calls,
                       &c.end_function_calls,
                       &c.invoke,
                       &c.end_invoke,
                       &c.parameter,
                       &c.end_parameter,
                       &c.function_results,
                       &c.end_function_results,
                       &c.result,
                       &c.end_result};
  for (int32_t id = kFirstSpecialId; id < kNumTokens; ++id) {
    const std::optional<int32_t> found = t.bpe_->TokenId(SpecialTokenText(id));
    *fields[id - kFirstSpecialId] = found.value_or(-1);
  }
  // DeepSeek's tokenizers name the sequence tokens differently; text framing (score, the LM
  // stages, generate without --chat) and config.json's token ids then use theirs.
  const std::pair<int32_t*, absl::string_view> deepseek[] = {{&c.bos, "<｜begin▁of▁sentence｜>"},
                                                             {&c.eos, "<｜end▁of▁sentence｜>"},
                                                             {&c.pad, "<｜▁pad▁｜>"}};
  for (const auto& [field, text] : deepseek) {
    if (*field < 0) *field = t.bpe_->TokenId(text).value_or(-1);
  }
  return t;
}

absl::StatusOr<Tokenizer> Tokenizer::FromFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(path, 256 << 20, "tokenizer.json"));
  return FromJsonText(std::move(text), path);
}

absl::StatusOr<Tokenizer> Tokenizer::ForCheckpoint(const std::string& dir) {
  const std::string path = dir + "/tokenizer.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Tokenizer();
  return FromFile(path);
}

std::string Tokenizer::name() const { return is_bytes() ? "bytes" : source_; }

absl::Status Tokenizer::CheckChatTokens(absl::string_view what) const {
  std::vector<std::string> missing;
  const ChatTokenIds& c = chat_;
  const int32_t ids[] = {c.pad,
                         c.bos,
                         c.eos,
                         c.user,
                         c.assistant,
                         c.think,
                         c.end_think,
                         c.function_calls,
                         c.end_function_calls,
                         c.invoke,
                         c.end_invoke,
                         c.parameter,
                         c.end_parameter,
                         c.function_results,
                         c.end_function_results,
                         c.result,
                         c.end_result};
  for (int32_t i = 0; i < kNumTokens - kFirstSpecialId; ++i) {
    if (ids[i] < 0)
      missing.push_back(absl::StrCat("\"", SpecialTokenText(kFirstSpecialId + i), "\""));
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(what, " needs the chat tokens of SPEC §4, and the tokenizer ", name(), " lacks ",
                   absl::StrJoin(missing, ", "), ": add them to its added_tokens"));
}

std::string Tokenizer::HfJson() const { return is_bytes() ? ByteTokenizerJson() : *json_; }

std::string Tokenizer::TokenText(int32_t id) const {
  if (is_bytes()) return IsKnownToken(id) ? ByteDecode({id}) : "";
  return bpe_->TokenText(id);
}

int32_t Tokenizer::TokenId(absl::string_view text) const {
  if (!is_bytes()) return bpe_->TokenId(text).value_or(-1);
  if (text.size() == 1) return static_cast<unsigned char>(text[0]);
  for (int32_t id = kFirstSpecialId; id < kNumTokens; ++id) {
    if (SpecialTokenText(id) == text) return id;
  }
  return -1;
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text) const {
  return is_bytes() ? ByteEncode(text) : bpe_->Encode(text);
}

std::vector<int32_t> Tokenizer::EncodeWithSpecials(absl::string_view text) const {
  return is_bytes() ? ByteEncodeWithSpecials(text) : bpe_->EncodeWithSpecials(text);
}

std::string Tokenizer::Decode(absl::Span<const int32_t> ids) const {
  return is_bytes() ? ByteDecode(ids) : bpe_->Decode(ids);
}

std::string Tokenizer::DecodeForDisplay(absl::Span<const int32_t> ids) const {
  return SanitizeUtf8(Decode(ids));
}

std::string Tokenizer::TokenToString(int32_t id) const {
  if (is_bytes()) return ByteTokenToString(id);
  const std::string text = bpe_->TokenText(id);
  return text.empty() ? absl::StrCat("<unused:", id, ">") : SanitizeUtf8(text);
}

int32_t Tokenizer::size() const { return is_bytes() ? kNumTokens : bpe_->vocab_size(); }

}  // namespace dsarl::model

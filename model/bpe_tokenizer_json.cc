// Loading tokenizer.json into a BpeTokenizer: each section parsed and checked, refusals naming
// the field (bpe_json_field.h). Hugging Face's own loader warns and renumbers where ids disagree;
// we refuse instead, since a tokenizer whose ids differ from the model's is worse than none.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "model/bpe_json_field.h"
#include "model/bpe_tokenizer.h"
#include "model/bpe_tokenizer_state.h"

namespace dsarl::model {
namespace {

using bpe::JsonField;
using bpe::TokenKind;
using State = BpeTokenizer::State;

std::string Quote(absl::string_view s) { return Json::String(std::string(s)).Dump(); }

// A member that must be absent or null.
absl::Status RequireNull(const JsonField& parent, absl::string_view key, absl::string_view why) {
  std::optional<JsonField> f = parent.Find(key);
  if (!f.has_value() || f->value().is_null()) return absl::OkStatus();
  return f->Error(absl::StrCat("unsupported ", f->value().Dump(), " (must be null: ", why, ")"));
}

// Makes room for `id` and registers `text` under it; the caller has checked the id is free.
void Register(State* s, int32_t id, const std::string& text, TokenKind kind) {
  if (id >= int32_t(s->kind.size())) {
    s->kind.resize(id + 1, TokenKind::kNone);
    s->token_text.resize(id + 1);
  }
  s->kind[id] = kind;
  s->token_text[id] = text;
  s->token_ids.emplace(text, id);
}

absl::Status LoadVocab(const JsonField& vocab, State* s) {
  RETURN_IF_ERROR(vocab.RequireObject());
  const auto& members = vocab.value().object();
  s->token_ids.reserve(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& [token, value] = members[i];
    if (!value.is_integer() || value.int_value() < 0 ||
        value.int_value() >= BpeTokenizer::kMaxIds) {
      return vocab.MemberAt(i).AsInt(0, BpeTokenizer::kMaxIds - 1).status();
    }
    const int32_t id = int32_t(value.int_value());
    if (id < int32_t(s->kind.size()) && s->kind[id] != TokenKind::kNone) {
      return vocab.MemberAt(i).Error(
          absl::StrCat("id ", id, " is already ", Quote(s->token_text[id]), "'s"));
    }
    Register(s, id, token, TokenKind::kVocab);
  }
  for (int b = 0; b < 256; ++b) {
    const std::string ch = bpe::ByteLevelEncode(std::string(1, char(b)));
    auto it = s->token_ids.find(ch);
    if (it == s->token_ids.end()) {
      return vocab.Error(absl::StrCat("no token for byte ", b, " (", Quote(ch),
                                      "): a byte-level vocab needs all 256, or bytes are lost"));
    }
    s->byte_ids[b] = it->second;
  }
  return absl::OkStatus();
}

// One merge: "left right" (split at the first space) or ["left", "right"].
absl::StatusOr<std::pair<std::string, std::string>> MergePair(const JsonField& f) {
  if (f.value().is_string()) {
    const std::string& m = f.value().string_value();
    const size_t space = m.find(' ');
    if (space == std::string::npos) return f.Error("expected \"left right\"");
    return std::make_pair(m.substr(0, space), m.substr(space + 1));
  }
  const auto& a = f.value().array();
  if (!f.value().is_array() || a.size() != 2 || !a[0].is_string() || !a[1].is_string()) {
    return f.Error("expected \"left right\" or [\"left\", \"right\"]");
  }
  return std::make_pair(a[0].string_value(), a[1].string_value());
}

absl::Status LoadMerges(const JsonField& merges, State* s) {
  RETURN_IF_ERROR(merges.RequireArray());
  const size_t n = merges.value().array().size();
  if (n >= size_t(INT32_MAX)) return merges.Error("too many merges");
  const auto id_of = [&](const std::string& token) -> std::optional<int32_t> {
    auto it = s->token_ids.find(token);
    if (it == s->token_ids.end()) return std::nullopt;
    return it->second;
  };
  for (size_t i = 0; i < n; ++i) {
    const JsonField f = merges.At(i);
    ASSIGN_OR_RETURN(const auto names, MergePair(f));
    const std::optional<int32_t> left = id_of(names.first), right = id_of(names.second);
    if (!left.has_value())
      return f.Error(absl::StrCat(Quote(names.first), " is not in model.vocab"));
    if (!right.has_value()) {
      return f.Error(absl::StrCat(Quote(names.second), " is not in model.vocab"));
    }
    const std::string joined = names.first + names.second;
    const std::optional<int32_t> merged = id_of(joined);
    if (!merged.has_value()) {
      return f.Error(absl::StrCat("the merge result ", Quote(joined), " is not in model.vocab"));
    }
    s->merges.Add(*left, *right, *merged, int32_t(i));
  }
  return absl::OkStatus();
}

absl::Status CheckModelOptions(const JsonField& model) {
  if (std::optional<JsonField> d = model.Find("dropout");
      d.has_value() && !d->value().is_null() && d->value().number_value() != 0.0) {
    return d->Error(absl::StrCat("unsupported ", d->value().Dump(), " (only null or 0)"));
  }
  ASSIGN_OR_RETURN(const bool byte_fallback, model.GetBool("byte_fallback", false));
  if (byte_fallback) return model.Find("byte_fallback")->Error("unsupported true");
  for (absl::string_view key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    std::optional<JsonField> f = model.Find(key);
    if (!f.has_value() || f->value().is_null()) continue;
    ASSIGN_OR_RETURN(const std::string v, f->AsString());
    if (!v.empty()) return f->Error(absl::StrCat("unsupported ", Quote(v), " (only null)"));
  }
  // unk_token and fuse_unk never matter: every byte has a token (LoadVocab checks).
  return absl::OkStatus();
}

absl::Status LoadModel(const JsonField& model, State* s) {
  RETURN_IF_ERROR(model.RequireObject());
  ASSIGN_OR_RETURN(const std::string type, model.Type());
  if (type != "BPE") return model.UnsupportedType(type, "only \"BPE\"");
  RETURN_IF_ERROR(CheckModelOptions(model));
  ASSIGN_OR_RETURN(s->ignore_merges, model.GetBool("ignore_merges", false));
  ASSIGN_OR_RETURN(const JsonField vocab, model.Get("vocab"));
  RETURN_IF_ERROR(LoadVocab(vocab, s));
  ASSIGN_OR_RETURN(const JsonField merges, model.Get("merges"));
  RETURN_IF_ERROR(LoadMerges(merges, s));
  if (s->ignore_merges) {
    for (int32_t id = 0; id < int32_t(s->kind.size()); ++id) {
      if (s->kind[id] != TokenKind::kVocab) continue;
      if (auto bytes = bpe::ByteLevelDecode(s->token_text[id])) {
        s->byte_token_ids.emplace(std::move(*bytes), id);
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bpe::AddedToken> ParseAddedToken(const JsonField& f) {
  RETURN_IF_ERROR(f.RequireObject());
  bpe::AddedToken t;
  ASSIGN_OR_RETURN(const JsonField id, f.Get("id"));
  ASSIGN_OR_RETURN(const int64_t id_value, id.AsInt(0, BpeTokenizer::kMaxIds - 1));
  t.id = int32_t(id_value);
  ASSIGN_OR_RETURN(t.content, f.GetString("content"));
  if (t.content.empty()) return f.Find("content")->Error("empty");
  ASSIGN_OR_RETURN(const bool single_word, f.GetBool("single_word", false));
  if (single_word) {
    return f.Find("single_word")->Error("unsupported true (single-word tokens)");
  }
  ASSIGN_OR_RETURN(t.lstrip, f.GetBool("lstrip", false));
  ASSIGN_OR_RETURN(t.rstrip, f.GetBool("rstrip", false));
  ASSIGN_OR_RETURN(t.special, f.GetBool("special", false));
  ASSIGN_OR_RETURN(t.normalized, f.GetBool("normalized", !t.special));
  return t;
}

absl::Status LoadAddedTokens(const JsonField& root, State* s) {
  std::optional<JsonField> list = root.Find("added_tokens");
  if (!list.has_value() || list->value().is_null()) return absl::OkStatus();
  RETURN_IF_ERROR(list->RequireArray());
  absl::flat_hash_map<std::string, size_t> seen;  // content -> index
  std::vector<int32_t> raw, normalized;
  for (size_t i = 0; i < list->value().array().size(); ++i) {
    const JsonField f = list->At(i);
    ASSIGN_OR_RETURN(bpe::AddedToken t, ParseAddedToken(f));
    if (auto [it, inserted] = seen.emplace(t.content, i); !inserted) {
      return f.Error(absl::StrCat(Quote(t.content), " is also added_tokens[", it->second, "]"));
    }
    if (t.id < int32_t(s->kind.size()) && s->kind[t.id] != TokenKind::kNone &&
        s->token_text[t.id] != t.content) {
      return f.Error(absl::StrCat("id ", t.id, " is already ", Quote(s->token_text[t.id]), "'s"));
    }
    if (auto it = s->token_ids.find(t.content); it != s->token_ids.end() && it->second != t.id) {
      return f.Error(absl::StrCat(Quote(t.content), " has id ", t.id, " here but ", it->second,
                                  " in model.vocab"));
    }
    Register(s, t.id, t.content, t.special ? TokenKind::kSpecial : TokenKind::kAdded);
    (t.normalized ? normalized : raw).push_back(int32_t(s->added.size()));
    s->added.push_back(std::move(t));
  }
  s->raw_matcher = bpe::AddedTokenMatcher(&s->added, raw);
  s->normalized_matcher = bpe::AddedTokenMatcher(&s->added, normalized);
  return absl::OkStatus();
}

absl::Status CheckNormalizer(const JsonField& root) {
  std::optional<JsonField> f = root.Find("normalizer");
  if (!f.has_value() || f->value().is_null()) return absl::OkStatus();
  RETURN_IF_ERROR(f->RequireObject());
  ASSIGN_OR_RETURN(const std::string type, f->Type());
  if (type == "Sequence") {
    ASSIGN_OR_RETURN(const JsonField list, f->Get("normalizers"));
    RETURN_IF_ERROR(list.RequireArray());
    if (list.value().array().empty()) return absl::OkStatus();
    const JsonField first = list.At(0);
    ASSIGN_OR_RETURN(const std::string first_type, first.Type());
    return first.UnsupportedType(first_type, "only a null normalizer is supported");
  }
  return f->UnsupportedType(type, "only a null normalizer is supported");
}

// ByteLevel, or a Sequence whose every member is ByteLevel (or such a Sequence).
absl::Status CheckDecoder(const JsonField& f) {
  RETURN_IF_ERROR(f.RequireObject());
  ASSIGN_OR_RETURN(const std::string type, f.Type());
  if (type == "ByteLevel") return absl::OkStatus();
  if (type != "Sequence") return f.UnsupportedType(type, "only ByteLevel");
  ASSIGN_OR_RETURN(const JsonField list, f.Get("decoders"));
  RETURN_IF_ERROR(list.RequireArray());
  if (list.value().array().empty()) return list.Error("empty: a byte-level BPE needs ByteLevel");
  for (size_t i = 0; i < list.value().array().size(); ++i)
    RETURN_IF_ERROR(CheckDecoder(list.At(i)));
  return absl::OkStatus();
}

// The ids of TemplateProcessing's SpecialToken `name` (from its special_tokens table).
absl::StatusOr<std::vector<int32_t>> TemplateTokenIds(const JsonField& processor,
                                                      const JsonField& item, const State& s) {
  ASSIGN_OR_RETURN(const std::string name, item.GetString("id"));
  ASSIGN_OR_RETURN(const JsonField table, processor.Get("special_tokens"));
  ASSIGN_OR_RETURN(const JsonField entry, table.Get(name));
  ASSIGN_OR_RETURN(const JsonField ids, entry.Get("ids"));
  RETURN_IF_ERROR(ids.RequireArray());
  std::vector<int32_t> out;
  for (size_t i = 0; i < ids.value().array().size(); ++i) {
    ASSIGN_OR_RETURN(const int64_t id, ids.At(i).AsInt(0, int64_t(s.kind.size()) - 1));
    if (s.kind[id] == TokenKind::kNone) return ids.At(i).Error("names no token");
    out.push_back(int32_t(id));
  }
  return out;
}

absl::Status LoadTemplate(const JsonField& f, State* s) {
  ASSIGN_OR_RETURN(const JsonField single, f.Get("single"));
  RETURN_IF_ERROR(single.RequireArray());
  std::vector<int32_t> prefix, suffix;
  bool seen_sequence = false;
  for (size_t i = 0; i < single.value().array().size(); ++i) {
    const JsonField item = single.At(i);
    RETURN_IF_ERROR(item.RequireObject());
    if (item.Find("Sequence").has_value()) {
      if (seen_sequence) return item.Error("a second Sequence in a single-sequence template");
      seen_sequence = true;
      continue;
    }
    std::optional<JsonField> special = item.Find("SpecialToken");
    if (!special.has_value()) return item.Error("expected \"SpecialToken\" or \"Sequence\"");
    ASSIGN_OR_RETURN(const std::vector<int32_t> ids, TemplateTokenIds(f, *special, *s));
    std::vector<int32_t>& side = seen_sequence ? suffix : prefix;
    side.insert(side.end(), ids.begin(), ids.end());
  }
  if (!seen_sequence) return single.Error("no Sequence item");
  s->template_prefix = std::move(prefix);
  s->template_suffix = std::move(suffix);
  return absl::OkStatus();
}

absl::Status LoadPostProcessor(const JsonField& f, State* s) {
  if (f.value().is_null()) return absl::OkStatus();
  RETURN_IF_ERROR(f.RequireObject());
  ASSIGN_OR_RETURN(const std::string type, f.Type());
  if (type == "ByteLevel") return absl::OkStatus();  // it only adjusts offsets
  if (type == "TemplateProcessing") return LoadTemplate(f, s);
  if (type != "Sequence") return f.UnsupportedType(type);
  ASSIGN_OR_RETURN(const JsonField list, f.Get("processors"));
  RETURN_IF_ERROR(list.RequireArray());
  for (size_t i = 0; i < list.value().array().size(); ++i) {
    RETURN_IF_ERROR(LoadPostProcessor(list.At(i), s));
  }
  return absl::OkStatus();
}

absl::Status LoadAll(const JsonField& root, State* s) {
  RETURN_IF_ERROR(root.RequireObject());
  RETURN_IF_ERROR(RequireNull(root, "truncation", "Encode never truncates"));
  RETURN_IF_ERROR(RequireNull(root, "padding", "Encode never pads"));
  ASSIGN_OR_RETURN(const JsonField model, root.Get("model"));
  RETURN_IF_ERROR(LoadModel(model, s));
  RETURN_IF_ERROR(LoadAddedTokens(root, s));
  RETURN_IF_ERROR(CheckNormalizer(root));
  ASSIGN_OR_RETURN(const JsonField pre_tokenizer, root.Get("pre_tokenizer"));
  ASSIGN_OR_RETURN(s->pre_tokenizer, bpe::PreTokenizer::FromJson(pre_tokenizer));
  ASSIGN_OR_RETURN(const JsonField decoder, root.Get("decoder"));
  if (decoder.value().is_null()) return decoder.Error("null: a byte-level BPE needs ByteLevel");
  RETURN_IF_ERROR(CheckDecoder(decoder));
  if (std::optional<JsonField> post = root.Find("post_processor")) {
    RETURN_IF_ERROR(LoadPostProcessor(*post, s));
  }
  // What Decode writes: Hugging Face's ByteLevel decoder maps a token through the alphabet when
  // every character is in it, and keeps its UTF-8 otherwise; added tokens go through it too.
  s->token_bytes.resize(s->kind.size());
  for (size_t id = 0; id < s->kind.size(); ++id) {
    std::optional<std::string> bytes = bpe::ByteLevelDecode(s->token_text[id]);
    s->token_bytes[id] = bytes.has_value() ? std::move(*bytes) : s->token_text[id];
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BpeTokenizer> BpeTokenizer::FromJson(absl::string_view json_text,
                                                    absl::string_view source,
                                                    const BpeTokenizerOptions& options) {
  absl::StatusOr<Json> json = ParseJson(json_text);
  if (!json.ok()) return Annotate(json.status(), source);
  auto state = std::make_shared<State>();
  RETURN_IF_ERROR(LoadAll(JsonField(*json, source, ""), state.get()));
  if (options.cache_entries > 0) {
    state->cache = std::make_unique<bpe::PieceCache>(options.cache_entries);
  }
  return BpeTokenizer(std::move(state));
}

absl::StatusOr<BpeTokenizer> BpeTokenizer::FromFile(const std::string& path,
                                                    const BpeTokenizerOptions& options) {
  ASSIGN_OR_RETURN(const std::string text, ReadFileBounded(path, kMaxFileBytes, "tokenizer.json"));
  return FromJson(text, path, options);
}

}  // namespace dsarl::model

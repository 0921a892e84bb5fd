// Byte-level alphabet, PCRE2 wrapper and the split steps of the BPE pre-tokenizer. The split
// behaviours follow Hugging Face's NormalizedString::split one for one, so that pieces agree.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/bpe_pretokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "base/status_macros.h"
#include "base/utf8.h"

namespace dsarl::model::bpe {
namespace {

// Code points of the byte-level alphabet are all below this.
constexpr int kAlphabetLimit = 256 + 68;

struct ByteLevelTables {
  std::array<char32_t, 256> byte_to_cp{};
  std::array<int16_t, kAlphabetLimit> cp_to_byte{};
};

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes
// (controls, space, DEL, NBSP, soft hyphen) for U+0100.. in byte order.
constexpr ByteLevelTables MakeByteLevelTables() {
  ByteLevelTables t;
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    t.byte_to_cp[b] = printable ? char32_t(b) : char32_t(next++);
  }
  for (int cp = 0; cp < kAlphabetLimit; ++cp) t.cp_to_byte[cp] = -1;
  for (int b = 0; b < 256; ++b) t.cp_to_byte[t.byte_to_cp[b]] = int16_t(b);
  return t;
}

constexpr ByteLevelTables kTables = MakeByteLevelTables();

// GPT-2's pre-tokenizer pattern, which ByteLevel applies when use_regex is true.
constexpr char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// What Oniguruma's escapes mean with Unicode, where PCRE2 (UCP) reads them otherwise: \s is
// White_Space (PCRE2 adds U+180E), \h a hex digit (PCRE2: horizontal space), \v the VT
// character (PCRE2: vertical space), \w Alphabetic | Mark | Decimal_Number |
// Connector_Punctuation plus the Latin-1 digits ² ³ ¹ ¼ ½ ¾ (PCRE2 10.42: \p{L}, \p{N}, '_').
// The character-class test checks every code point of these against Oniguruma.
constexpr char kWhiteSpace[] =
    R"(\t\n\x0B\f\r\x20\x85\xA0\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
constexpr char kHexDigit[] = "0-9a-fA-F";
constexpr char kWord[] = R"(\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{B2}\x{B3}\x{B9}\x{BC}-\x{BE})";

// The set an escape letter stands for (nullptr for others), and whether it is the negation.
const char* EscapeSet(char e, bool* negated) {
  *negated = e == 'S' || e == 'H' || e == 'W';
  switch (e) {
    case 's':
    case 'S':
      return kWhiteSpace;
    case 'h':
    case 'H':
      return kHexDigit;
    case 'w':
    case 'W':
      return kWord;
    default:
      return nullptr;
  }
}

// Hugging Face's find_matches: the parts between and at the matches of a piece of `len` bytes.
void MatchesToParts(absl::Span<const std::pair<size_t, size_t>> matches, size_t len, bool invert,
                    std::vector<SplitPart>* parts) {
  parts->clear();
  if (len == 0) {
    parts->push_back({0, 0, invert});
    return;
  }
  size_t prev = 0;
  for (const auto& [begin, end] : matches) {
    if (prev != begin) parts->push_back({prev, begin, invert});
    parts->push_back({begin, end, !invert});
    prev = end;
  }
  if (prev != len) parts->push_back({prev, len, invert});
}

// Hugging Face's SplitDelimiterBehavior applied to `parts` (offsets relative to `base`),
// appending the non-empty pieces to `out`.
void ApplyBehavior(SplitBehavior behavior, absl::Span<const SplitPart> parts, size_t base,
                   std::vector<Span>* out) {
  const size_t first = out->size();
  const auto have_last = [&] { return out->size() > first; };
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const SplitPart& p : parts) out->push_back({base + p.begin, base + p.end});
      break;
    case SplitBehavior::kRemoved:
      for (const SplitPart& p : parts) {
        if (!p.is_match) out->push_back({base + p.begin, base + p.end});
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const SplitPart& p : parts) {
        if (p.is_match && !previous_match && have_last()) {
          out->back().end = base + p.end;
        } else {
          out->push_back({base + p.begin, base + p.end});
        }
        previous_match = p.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:  // the mirror image: folded from the right
      for (size_t i = parts.size(); i-- > 0;) {
        const SplitPart& p = parts[i];
        if (p.is_match && !previous_match && have_last()) {
          out->back().begin = base + p.begin;
        } else {
          out->push_back({base + p.begin, base + p.end});
        }
        previous_match = p.is_match;
      }
      std::reverse(out->begin() + first, out->end());
      break;
    case SplitBehavior::kContiguous:
      for (const SplitPart& p : parts) {
        if (p.is_match == previous_match && have_last()) {
          out->back().end = base + p.end;
        } else {
          out->push_back({base + p.begin, base + p.end});
        }
        previous_match = p.is_match;
      }
      break;
  }
  // Hugging Face drops empty pieces after every split.
  out->erase(std::remove_if(out->begin() + first, out->end(),
                            [](const Span& s) { return s.begin == s.end; }),
             out->end());
}

absl::StatusOr<SplitBehavior> ParseBehavior(const JsonField& field) {
  ASSIGN_OR_RETURN(const std::string name, field.AsString());
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return field.Error(absl::StrCat("unsupported ", Json::String(name).Dump()));
}

absl::StatusOr<std::shared_ptr<const Regex>> CompileAt(const JsonField& field,
                                                       absl::string_view pattern, bool literal) {
  absl::StatusOr<std::shared_ptr<const Regex>> regex = Regex::Compile(pattern, literal);
  if (!regex.ok()) return field.Error(regex.status().message());
  return regex;
}

}  // namespace

std::string OnigToPcre2(absl::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  int depth = 0;             // nesting of [...]
  bool class_start = false;  // just after '[' or "[^": a ']' here is literal
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[++i];
      bool negated;
      const char* set = EscapeSet(e, &negated);
      if (e == 'v') {
        out += "\\x0B";
      } else if (set != nullptr && depth == 0) {
        absl::StrAppend(&out, negated ? "[^" : "[", set, "]");
      } else if (set != nullptr && !negated) {
        out += set;
      } else {  // other escapes; a negated set inside a class stays PCRE2's (see header)
        out += c;
        out += e;
      }
      class_start = false;
      continue;
    }
    out += c;
    if (c == '[' && depth > 0 && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:]
      const size_t end = p.find(":]", i + 2);
      if (end != absl::string_view::npos) {
        out.append(p.data() + i + 1, end + 2 - (i + 1));
        i = end + 1;
        class_start = false;
        continue;
      }
    }
    if (c == '[') {
      ++depth;
      class_start = true;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      continue;
    }
    if (c == ']' && depth > 0 && !class_start) --depth;
    class_start = false;
  }
  return out;
}

char32_t ByteToUnicode(uint8_t byte) { return kTables.byte_to_cp[byte]; }

std::string ByteLevelEncode(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) AppendUtf8(uint32_t(kTables.byte_to_cp[uint8_t(c)]), &out);
  return out;
}

std::optional<std::string> ByteLevelDecode(absl::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    const uint8_t b = token[i];
    // Only one- and two-byte sequences encode code points below kAlphabetLimit.
    char32_t cp;
    if (b < 0x80) {
      cp = b;
      i += 1;
    } else if ((b & 0xE0) == 0xC0 && i + 1 < token.size()) {
      cp = (char32_t(b & 0x1F) << 6) | (uint8_t(token[i + 1]) & 0x3F);
      i += 2;
    } else {
      return std::nullopt;
    }
    if (cp >= kAlphabetLimit || kTables.cp_to_byte[cp] < 0) return std::nullopt;
    out.push_back(char(kTables.cp_to_byte[cp]));
  }
  return out;
}

// ---- Regex -------------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<const Regex>> Regex::Compile(absl::string_view pattern,
                                                            bool literal) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  // PCRE2 refuses UCP beside LITERAL; a literal has no classes for it to change anyway.
  const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  const std::string translated = literal ? std::string(pattern) : OnigToPcre2(pattern);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()),
                                   translated.size(), options, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(
        absl::StrCat("pattern does not compile (PCRE2): ", reinterpret_cast<const char*>(message),
                     " at offset ", offset, literal ? "" : " of the translated pattern"));
  }
  // JIT is an optimisation only: where it is unavailable the interpreter gives the same matches.
  const bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return std::shared_ptr<const Regex>(new Regex(code, jit));
}

Regex::~Regex() { pcre2_code_free(code_); }

void Regex::MatchDataDeleter::operator()(pcre2_real_match_data_8* m) const {
  pcre2_match_data_free(m);
}

Regex::MatchData Regex::NewMatchData() {
  // One pair is enough: only the whole match is read (rc 0 still sets it).
  return MatchData(pcre2_match_data_create(1, nullptr));
}

void Regex::FindAll(absl::string_view subject, MatchData* match_data,
                    std::vector<std::pair<size_t, size_t>>* out) const {
  if (*match_data == nullptr) *match_data = NewMatchData();
  pcre2_match_data* md = match_data->get();
  const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const size_t n = subject.size();
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  size_t pos = 0;
  bool have_last = false;
  size_t last_end = 0;
  while (pos <= n) {
    int rc = jit_ ? pcre2_jit_match(code_, data, n, pos, 0, md, nullptr)
                  : pcre2_match(code_, data, n, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && jit_) {  // e.g. JIT stack exhausted
      rc = pcre2_match(code_, data, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
    }
    if (rc < 0) return;  // no match, or PCRE2 gave up: the rest is unmatched
    const size_t begin = ov[0], end = ov[1];
    if (begin < pos || end < begin || end > n) return;  // \K tricks: treat as the end
    if (begin == end && have_last && last_end == end) {
      if (pos >= n) return;
      // Step over one character (the subject is valid UTF-8).
      ++pos;
      while (pos < n && (uint8_t(subject[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    out->emplace_back(begin, end);
    pos = end;
    have_last = true;
    last_end = end;
  }
}

// ---- PreTokenizer ------------------------------------------------------------------------------

absl::Status PreTokenizer::ParseStep(const JsonField& field, std::vector<Step>* steps) {
  RETURN_IF_ERROR(field.RequireObject());
  ASSIGN_OR_RETURN(const std::string type, field.Type());
  if (type == "Sequence") {
    ASSIGN_OR_RETURN(const JsonField list, field.Get("pretokenizers"));
    RETURN_IF_ERROR(list.RequireArray());
    for (size_t i = 0; i < list.value().array().size(); ++i) {
      RETURN_IF_ERROR(ParseStep(list.At(i), steps));
    }
    return absl::OkStatus();
  }
  Step step;
  if (type == "ByteLevel") {
    step.byte_level = true;
    ASSIGN_OR_RETURN(step.add_prefix_space, field.GetBool("add_prefix_space", true));
    ASSIGN_OR_RETURN(const bool use_regex, field.GetBool("use_regex", true));
    if (use_regex) {
      ASSIGN_OR_RETURN(step.regex, CompileAt(field, kGpt2Pattern, false));
    }
  } else if (type == "Split") {
    ASSIGN_OR_RETURN(const JsonField pattern, field.Get("pattern"));
    RETURN_IF_ERROR(pattern.RequireObject());
    if (pattern.value().object().size() != 1) {
      return pattern.Error("expected one member, \"Regex\" or \"String\"");
    }
    const std::string& kind = pattern.value().object()[0].first;
    if (kind != "Regex" && kind != "String") {
      return pattern.Error(absl::StrCat("unsupported pattern kind ", Json::String(kind).Dump(),
                                        " (expected \"Regex\" or \"String\")"));
    }
    const JsonField member = *pattern.Find(kind);
    ASSIGN_OR_RETURN(const std::string text, member.AsString());
    ASSIGN_OR_RETURN(step.regex, CompileAt(member, text, kind == "String"));
    ASSIGN_OR_RETURN(const JsonField behavior, field.Get("behavior"));
    ASSIGN_OR_RETURN(step.behavior, ParseBehavior(behavior));
    ASSIGN_OR_RETURN(step.invert, field.GetBool("invert", false));
  } else if (type == "Digits") {
    ASSIGN_OR_RETURN(const bool individual, field.GetBool("individual_digits", false));
    // Rust's char::is_numeric is \p{N}; runs of digits are Contiguous matches.
    ASSIGN_OR_RETURN(step.regex, CompileAt(field, R"(\p{N})", false));
    step.behavior = individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous;
  } else {
    return field.UnsupportedType(type);
  }
  steps->push_back(std::move(step));
  return absl::OkStatus();
}

absl::StatusOr<PreTokenizer> PreTokenizer::FromJson(const JsonField& field) {
  if (field.value().is_null()) {
    return field.Error("null: only byte-level BPE is supported, which needs a ByteLevel step");
  }
  PreTokenizer p;
  RETURN_IF_ERROR(ParseStep(field, &p.steps_));
  const auto n_byte_level =
      std::count_if(p.steps_.begin(), p.steps_.end(), [](const Step& s) { return s.byte_level; });
  if (n_byte_level != 1 || !p.steps_.back().byte_level) {
    return field.Error(absl::StrCat("needs exactly one ByteLevel step, as the last step (found ",
                                    n_byte_level, n_byte_level == 1 ? ", not last)" : ")"));
  }
  return p;
}

void PreTokenizer::AddPrefixSpaces(PreTokens* out) {
  std::string text;
  text.reserve(out->text_.size() + out->spans_.size());
  for (Span& s : out->spans_) {
    const absl::string_view piece = out->piece(s);
    const size_t begin = text.size();
    if (piece.empty() || piece[0] != ' ') text.push_back(' ');
    text.append(piece.data(), piece.size());
    s = {begin, text.size()};
  }
  out->owned_ = std::move(text);
  out->text_ = out->owned_;
}

void PreTokenizer::ApplyRegex(const Step& step, PreTokens* out) const {
  out->next_.clear();
  for (const Span& s : out->spans_) {
    const absl::string_view piece = out->piece(s);
    out->matches_.clear();
    step.regex->FindAll(piece, &out->match_data_, &out->matches_);
    MatchesToParts(out->matches_, piece.size(), step.invert, &out->parts_);
    ApplyBehavior(step.behavior, out->parts_, s.begin, &out->next_);
  }
  out->spans_.swap(out->next_);
}

void PreTokenizer::Split(absl::string_view text, PreTokens* out) const {
  out->text_ = text;
  out->spans_.clear();
  if (text.empty()) return;
  out->spans_.push_back({0, text.size()});
  for (const Step& step : steps_) {
    if (step.byte_level && step.add_prefix_space) AddPrefixSpaces(out);
    if (step.regex != nullptr) ApplyRegex(step, out);
  }
}

}  // namespace dsarl::model::bpe

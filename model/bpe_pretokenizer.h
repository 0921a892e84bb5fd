// The pre-tokenizer of a Hugging Face byte-level BPE tokenizer: the regex splits that cut text
// into pre-tokens before merges apply, and GPT-2's byte <-> unicode alphabet. Why PCRE2: Hugging
// Face's patterns are written for Oniguruma with Unicode classes (\p{L}, \s, lookahead), which
// std::regex cannot express; PCRE2 with UTF + UCP reads them the same way, and its JIT is fast.
//
// Pre-tokens are kept as raw bytes. Hugging Face maps every byte to a printable character
// (ByteLevel) before the model sees it; we map the vocabulary the other way once at load, so the
// bytes of a pre-token are looked up directly. Because of that the ByteLevel step must be the
// last step (a split after it would see mapped characters); FromJson refuses other orders.
#ifndef DSARL_MODEL_BPE_PRETOKENIZER_H_
#define DSARL_MODEL_BPE_PRETOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/bpe_json_field.h"

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;

namespace dsarl::model::bpe {

// ---- GPT-2's bytes_to_unicode ------------------------------------------------------------------
// The printable character that stands for `byte` in byte-level vocabularies ('Ġ' for ' ').
char32_t ByteToUnicode(uint8_t byte);
// The byte-level form of raw bytes: "Ġhello" for " hello".
std::string ByteLevelEncode(absl::string_view bytes);
// The raw bytes of a byte-level token, or nullopt when some character of `token` (valid UTF-8)
// is not in the 256-character alphabet.
std::optional<std::string> ByteLevelDecode(absl::string_view token);

// ---- regex -------------------------------------------------------------------------------------
// An Oniguruma pattern (as Hugging Face writes them) rewritten so PCRE2 with UCP matches the same
// characters: \s \S \h \H \w \W \v become explicit sets. Inside a [...] class a negated escape
// (\S \H \W) keeps PCRE2's meaning: \S then differs from Oniguruma's at U+180E only.
// Everything else (\p{..}, lookaround, (?i:..), quantifiers) means the same in both.
std::string OnigToPcre2(absl::string_view pattern);

// A compiled PCRE2 pattern (UTF, UCP, JIT when the platform has it). Immutable once built and
// shared by every thread; each search brings its own MatchData.
class Regex {
 public:
  // `literal`: the pattern is a plain string (Split's {"String": ...}). Error text on failure.
  static absl::StatusOr<std::shared_ptr<const Regex>> Compile(absl::string_view pattern,
                                                              bool literal);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  struct MatchDataDeleter {
    void operator()(pcre2_real_match_data_8* m) const;
  };
  using MatchData = std::unique_ptr<pcre2_real_match_data_8, MatchDataDeleter>;
  static MatchData NewMatchData();

  // Appends [begin, end) of every match in `subject` (valid UTF-8; offsets relative to it), in
  // the order Oniguruma's iterator gives them to Hugging Face: each search resumes at the end of
  // the last match, and an empty match right at that end is skipped. When PCRE2 gives up on a
  // search (a JIT stack or heap limit, even after retrying without JIT), the rest of the subject
  // counts as unmatched. Never fails otherwise.
  void FindAll(absl::string_view subject, MatchData* match_data,
               std::vector<std::pair<size_t, size_t>>* out) const;

 private:
  explicit Regex(pcre2_real_code_8* code, bool jit) : code_(code), jit_(jit) {}
  pcre2_real_code_8* code_;
  bool jit_;
};

// ---- the pre-tokenizer -------------------------------------------------------------------------
// What happens to the matches of a Split (Hugging Face's SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A byte range [begin, end) of PreTokens::text().
struct Span {
  size_t begin;
  size_t end;
};

// One piece of a split pre-token: a match of the pattern or the text between two matches.
struct SplitPart {
  size_t begin;
  size_t end;
  bool is_match;
};

// Output and scratch space of PreTokenizer::Split; reuse one across calls to save allocations.
// Not shared between threads.
class PreTokens {
 public:
  absl::string_view text() const { return text_; }
  const std::vector<Span>& spans() const { return spans_; }
  absl::string_view piece(const Span& s) const { return text_.substr(s.begin, s.end - s.begin); }

 private:
  friend class PreTokenizer;
  absl::string_view text_;  // the input, or owned_ once a prefix space was added
  std::string owned_;
  std::vector<Span> spans_;
  std::vector<Span> next_;
  std::vector<std::pair<size_t, size_t>> matches_;
  std::vector<SplitPart> parts_;
  Regex::MatchData match_data_;
};

class PreTokenizer {
 public:
  // Parses tokenizer.json's `pre_tokenizer` (the field at `field`). Supported: ByteLevel
  // (add_prefix_space, use_regex with GPT-2's pattern), Split (pattern {"Regex"} or {"String"},
  // every behavior, invert), Digits (individual_digits), and Sequence of these, with exactly one
  // ByteLevel, last. Anything else is InvalidArgument naming the field.
  static absl::StatusOr<PreTokenizer> FromJson(const JsonField& field);

  // Cuts `text` (valid UTF-8) into pre-tokens, as Hugging Face's pre_tokenize_str does (which
  // gives the same pieces in byte-level form). `text` must outlive the use of `out`.
  void Split(absl::string_view text, PreTokens* out) const;

 private:
  struct Step {
    std::shared_ptr<const Regex> regex;  // null for a ByteLevel step without use_regex
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    bool byte_level = false;
    bool add_prefix_space = false;  // ByteLevel only
  };
  static absl::Status ParseStep(const JsonField& field, std::vector<Step>* steps);
  void ApplyRegex(const Step& step, PreTokens* out) const;
  static void AddPrefixSpaces(PreTokens* out);

  std::vector<Step> steps_;
};

}  // namespace dsarl::model::bpe

#endif  // DSARL_MODEL_BPE_PRETOKENIZER_H_

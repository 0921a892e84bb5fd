// Answer extraction, normalization and number reading (see answer_text.h).
#include "rewards/answer_text.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dsarl::rewards {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The brace-balanced content starting right after an opening '{' at `open + 1`; nullopt when the
// braces never balance. `*end` is set to the index after the closing brace.
std::optional<std::string> BracedContent(absl::string_view text, size_t open, size_t* end) {
  int depth = 1;
  for (size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) {
      *end = i + 1;
      return std::string(text.substr(open + 1, i - open - 1));
    }
  }
  return std::nullopt;
}

std::optional<std::string> LastBoxed(absl::string_view text) {
  const size_t at = text.rfind("\\boxed{");
  if (at == absl::string_view::npos) return std::nullopt;
  size_t end = 0;
  return BracedContent(text, at + 6, &end);
}

std::optional<std::string> LastAnswerTag(absl::string_view text) {
  const size_t close = text.rfind("</answer>");
  if (close == absl::string_view::npos) return std::nullopt;
  const size_t open = text.substr(0, close).rfind("<answer>");
  if (open == absl::string_view::npos) return std::nullopt;
  return std::string(text.substr(open + 8, close - open - 8));
}

std::optional<std::string> LastLine(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    absl::string_view line = absl::StripAsciiWhitespace(*it);
    if (!line.empty()) return std::string(line);
  }
  return std::nullopt;
}

// digits with optional comma groups, optional decimals, optional exponent; no sign. Appends the
// digits (commas dropped) to `*out`.
bool ReadUnsignedDecimal(absl::string_view s, std::string* out) {
  size_t i = 0;
  const size_t int_start = i;
  bool grouped = false;
  size_t group_len = 0;
  while (i < s.size() && (IsDigit(s[i]) || s[i] == ',')) {
    if (s[i] == ',') {
      // The first group has 1..3 digits; every later group exactly 3.
      if (group_len == 0 || group_len > 3 || (grouped && group_len != 3)) return false;
      grouped = true;
      group_len = 0;
    } else {
      out->push_back(s[i]);
      ++group_len;
    }
    ++i;
  }
  if (grouped && group_len != 3) return false;
  const bool has_int = i > int_start;
  bool has_frac = false;
  if (i < s.size() && s[i] == '.') {
    out->push_back('.');
    ++i;
    while (i < s.size() && IsDigit(s[i])) {
      out->push_back(s[i++]);
      has_frac = true;
    }
  }
  if (!has_int && !has_frac) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    out->push_back('e');
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) out->push_back(s[i++]);
    const size_t exp_start = i;
    while (i < s.size() && IsDigit(s[i])) out->push_back(s[i++]);
    if (i == exp_start) return false;
  }
  return i == s.size();
}

std::optional<double> ParseSignedDecimal(absl::string_view s) {
  std::string digits;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    if (s[0] == '-') digits.push_back('-');
    s.remove_prefix(1);
  }
  if (!ReadUnsignedDecimal(s, &digits)) return std::nullopt;
  const double v = std::strtod(digits.c_str(), nullptr);
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<double> Divide(std::optional<double> num, std::optional<double> den) {
  if (!num.has_value() || !den.has_value() || *den == 0) return std::nullopt;
  const double v = *num / *den;
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<double> ParseLatexFrac(absl::string_view s) {
  bool negative = false;
  if (absl::ConsumePrefix(&s, "-")) negative = true;
  if (!absl::ConsumePrefix(&s, "\\frac") && !absl::ConsumePrefix(&s, "\\dfrac") &&
      !absl::ConsumePrefix(&s, "\\tfrac")) {
    return std::nullopt;
  }
  if (s.empty() || s[0] != '{') return std::nullopt;
  size_t end = 0;
  std::optional<std::string> num = BracedContent(s, 0, &end);
  if (!num.has_value()) return std::nullopt;
  s.remove_prefix(end);
  if (s.empty() || s[0] != '{') return std::nullopt;
  std::optional<std::string> den = BracedContent(s, 0, &end);
  if (!den.has_value() || end != s.size()) return std::nullopt;
  std::optional<double> v = Divide(ParseNumber(*num), ParseNumber(*den));
  if (!v.has_value()) return std::nullopt;
  return negative ? -*v : *v;
}

}  // namespace

absl::StatusOr<Extract> ParseExtract(absl::string_view name) {
  if (name == "full") return Extract::kFull;
  if (name == "boxed") return Extract::kBoxed;
  if (name == "answer_tag") return Extract::kAnswerTag;
  if (name == "last_line") return Extract::kLastLine;
  if (name == "last_number") return Extract::kLastNumber;
  return absl::InvalidArgumentError(
      absl::StrCat("extract '", name,
                   "': expected full, boxed, answer_tag, last_line or "
                   "last_number"));
}

std::optional<std::string> ExtractAnswer(absl::string_view text, Extract mode) {
  switch (mode) {
    case Extract::kFull:
      return std::string(text);
    case Extract::kBoxed:
      return LastBoxed(text);
    case Extract::kAnswerTag:
      return LastAnswerTag(text);
    case Extract::kLastLine:
      return LastLine(text);
    case Extract::kLastNumber:
      return FindLastNumber(text);
  }
  return std::nullopt;
}

std::string CleanAnswer(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  absl::ConsumeSuffix(&s, ".");
  s = absl::StripAsciiWhitespace(s);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'' || s.front() == '`') &&
      s.back() == s.front()) {
    s = absl::StripAsciiWhitespace(s.substr(1, s.size() - 2));
    absl::ConsumeSuffix(&s, ".");
  }
  return std::string(absl::StripAsciiWhitespace(s));
}

std::string NormalizeAnswer(absl::string_view text, const NormalizeOptions& options) {
  const std::string cleaned = CleanAnswer(text);
  std::string s;
  s.reserve(cleaned.size());
  for (size_t i = 0; i < cleaned.size(); ++i) {
    const char c = cleaned[i];
    if (options.strip_punctuation && absl::ascii_ispunct(static_cast<unsigned char>(c))) {
      // Keep the '.' of "3.5" and the ',' of "1,000": punctuation between digits is part of a
      // number.
      const bool between_digits = i > 0 && i + 1 < cleaned.size() && IsDigit(cleaned[i - 1]) &&
                                  IsDigit(cleaned[i + 1]) && (c == '.' || c == ',');
      if (!between_digits) continue;
    }
    s.push_back(options.case_sensitive ? c : absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  std::string out;
  for (absl::string_view word :
       absl::StrSplit(s, absl::ByAnyChar(" \t\n\r\f\v"), absl::SkipEmpty())) {
    if (options.remove_articles) {
      const std::string lower = absl::AsciiStrToLower(word);
      if (lower == "a" || lower == "an" || lower == "the") continue;
    }
    if (!out.empty()) out.push_back(' ');
    absl::StrAppend(&out, word);
  }
  return out;
}

std::optional<double> ParseNumber(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  absl::ConsumeSuffix(&s, ".");
  s = absl::StripAsciiWhitespace(s);
  if (absl::ConsumeSuffix(&s, "%")) s = absl::StripAsciiWhitespace(s);
  if (s.empty()) return std::nullopt;
  if (absl::StrContains(s, "frac")) return ParseLatexFrac(s);
  // A '$' may stand before or after the sign: "$-5", "-$5".
  std::string unsigned_part;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  absl::ConsumePrefix(&s, "$");
  if (!negative && !s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] == '-' || s[0] == '+') return std::nullopt;
  const size_t slash = s.find('/');
  std::optional<double> v;
  if (slash == absl::string_view::npos) {
    v = ParseSignedDecimal(s);
  } else {
    absl::string_view den = s.substr(slash + 1);
    if (!den.empty() && (den[0] == '-' || den[0] == '+')) return std::nullopt;
    v = Divide(ParseSignedDecimal(s.substr(0, slash)), ParseSignedDecimal(den));
  }
  if (!v.has_value()) return std::nullopt;
  return negative ? -*v : *v;
}

std::optional<std::string> FindLastNumber(absl::string_view text) {
  size_t end = text.size();
  while (end > 0 && !IsDigit(text[end - 1])) --end;
  if (end == 0) return std::nullopt;
  size_t begin = end;
  while (begin > 0 && (IsDigit(text[begin - 1]) || text[begin - 1] == ',' ||
                       text[begin - 1] == '.' || text[begin - 1] == '/')) {
    --begin;
  }
  absl::string_view run = text.substr(begin, end - begin);
  while (!run.empty() && (run[0] == ',' || run[0] == '/')) {
    run.remove_prefix(1);
    ++begin;
  }
  // A sign belongs to the number only when it does not join two words ("x-4" is not -4).
  if (begin > 0 && (text[begin - 1] == '-' || text[begin - 1] == '+') &&
      (begin == 1 || !absl::ascii_isalnum(static_cast<unsigned char>(text[begin - 2])))) {
    run = text.substr(begin - 1, end - begin + 1);
  }
  if (ParseNumber(run).has_value()) return std::string(run);
  // "1,2,3" is a list, not a grouped number: its last number is "3".
  const size_t cut = run.find_last_of(",/");
  if (cut != absl::string_view::npos) {
    absl::string_view tail = run.substr(cut + 1);
    if (ParseNumber(tail).has_value()) return std::string(tail);
  }
  return std::nullopt;
}

}  // namespace dsarl::rewards

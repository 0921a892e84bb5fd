// Answer matching rules (answer.h). Pure string work: no locale, no exceptions.
#include "envs/answer.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dsarl::envs {
namespace {

// "+001,234" -> "1234", "-0" -> "0"; empty when `s` is not an integer.
std::string NormalizeInteger(absl::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (c == ',' && !digits.empty() && i + 1 < s.size()) {
      continue;  // digit grouping
    } else {
      return "";
    }
  }
  if (digits.empty()) return "";
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  return absl::StrCat(negative ? "-" : "", digits.substr(first));
}

// Decimal places written in `s` ("2.50" -> 2, "3" -> 0).
int Decimals(absl::string_view s) {
  const size_t dot = s.find('.');
  if (dot == absl::string_view::npos) return 0;
  int n = 0;
  for (size_t i = dot + 1; i < s.size() && absl::ascii_isdigit(s[i]); ++i) ++n;
  return n;
}

bool ParseNumber(absl::string_view s, double* out) {
  std::string clean;
  for (char c : s) {
    if (c != ',') clean += c;
  }
  if (clean.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(clean.c_str(), &end);
  return end == clean.c_str() + clean.size() && std::isfinite(*out);
}

std::string NormalizeText(absl::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += absl::ascii_tolower(static_cast<unsigned char>(c));
  }
  return out;
}

std::vector<std::string> ListItems(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (s.size() >= 2 &&
      ((s.front() == '[' && s.back() == ']') || (s.front() == '(' && s.back() == ')'))) {
    s = s.substr(1, s.size() - 2);
  }
  std::vector<std::string> items;
  for (absl::string_view part : absl::StrSplit(s, absl::ByAnyChar(", \t\n\r"), absl::SkipEmpty())) {
    items.push_back(NormalizeText(part));
  }
  return items;
}

Verdict Result(bool ok, absl::string_view expected, absl::string_view given) {
  Verdict v;
  v.score = ok ? 1.0 : 0.0;
  v.details = ok ? absl::StrCat("correct: ", expected)
                 : absl::StrCat("expected '", expected, "', got '", given, "'");
  return v;
}

}  // namespace

const char* AnswerMatchName(AnswerMatch match) {
  switch (match) {
    case AnswerMatch::kInteger:
      return "integer";
    case AnswerMatch::kNumber:
      return "number";
    case AnswerMatch::kText:
      return "text";
    case AnswerMatch::kList:
      return "list";
    case AnswerMatch::kExact:
      return "exact";
  }
  return "?";
}

absl::StatusOr<AnswerMatch> ParseAnswerMatch(absl::string_view name) {
  for (AnswerMatch m : {AnswerMatch::kInteger, AnswerMatch::kNumber, AnswerMatch::kText,
                        AnswerMatch::kList, AnswerMatch::kExact}) {
    if (name == AnswerMatchName(m)) return m;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown answer match '", name, "'; expected integer, number, text, list or exact"));
}

std::string CleanAnswer(absl::string_view answer) {
  answer = absl::StripAsciiWhitespace(answer);
  if (answer.size() >= 2) {
    const char f = answer.front(), b = answer.back();
    if ((f == '"' || f == '\'' || f == '`') && f == b) {
      answer = absl::StripAsciiWhitespace(answer.substr(1, answer.size() - 2));
    }
  }
  if (!answer.empty() && answer.back() == '.') answer.remove_suffix(1);
  return std::string(absl::StripAsciiWhitespace(answer));
}

Verdict MatchAnswer(AnswerMatch match, absl::string_view expected, absl::string_view given) {
  const std::string clean = CleanAnswer(given);
  switch (match) {
    case AnswerMatch::kInteger: {
      const std::string e = NormalizeInteger(expected), g = NormalizeInteger(clean);
      return Result(!e.empty() && e == g, expected, clean);
    }
    case AnswerMatch::kNumber: {
      double e = 0, g = 0;
      if (!ParseNumber(expected, &e) || !ParseNumber(clean, &g)) {
        return Result(false, expected, clean);
      }
      const double tolerance = 0.5 * std::pow(10.0, -Decimals(expected)) + 1e-9 * std::fabs(e);
      return Result(std::fabs(e - g) <= tolerance, expected, clean);
    }
    case AnswerMatch::kText:
      return Result(NormalizeText(expected) == NormalizeText(clean), expected, clean);
    case AnswerMatch::kList:
      return Result(ListItems(expected) == ListItems(clean), expected, clean);
    case AnswerMatch::kExact:
      return Result(expected == clean, expected, clean);
  }
  return Result(false, expected, clean);
}

}  // namespace dsarl::envs

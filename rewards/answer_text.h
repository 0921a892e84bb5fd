// Text helpers of the match rewards (match.h): where the answer is in the model's final text, how
// text is normalized before comparing, and how numbers are read.
//
// Why lenient in form and strict in substance (the same stance as envs/answer.h): "$1,234." has
// the number 1234; "about 1234" does not parse as one when the whole answer must be a number.
#ifndef DSARL_REWARDS_ANSWER_TEXT_H_
#define DSARL_REWARDS_ANSWER_TEXT_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dsarl::rewards {

// Where the answer is found in a final answer.
enum class Extract {
  kFull,        // "full": the whole text
  kBoxed,       // "boxed": the content of the last \boxed{...} (braces balanced)
  kAnswerTag,   // "answer_tag": the content of the last <answer>...</answer>
  kLastLine,    // "last_line": the last line that is not blank
  kLastNumber,  // "last_number": the last number written (see FindLastNumber)
};

// Parses the names above; InvalidArgument listing them for any other text.
absl::StatusOr<Extract> ParseExtract(absl::string_view name);

// The answer part of `text` under `mode`; nullopt when it is not there (no \boxed{}, no closed
// answer tag, a blank text for kLastLine, no number for kLastNumber). kFull always succeeds.
std::optional<std::string> ExtractAnswer(absl::string_view text, Extract mode);

// Strips surrounding whitespace, a trailing period, and one pair of matching surrounding quotes or
// backticks with a period just inside them: ` "Paris." ` and "`x`." both become the bare word.
std::string CleanAnswer(absl::string_view text);

struct NormalizeOptions {
  bool case_sensitive = false;    // otherwise ASCII letters are lowered (other bytes kept)
  bool strip_punctuation = true;  // remove ASCII punctuation
  bool remove_articles = false;   // remove the words "a", "an", "the" (SQuAD-style)
};

// CleanAnswer, then the options above, then every run of whitespace becomes one space and the
// ends are trimmed.
std::string NormalizeAnswer(absl::string_view text, const NormalizeOptions& options);

// Reads `text` as one number, leniently in form: surrounding whitespace, one trailing period, a
// leading '$' and a trailing '%' (the value is kept: "50%" is 50) are ignored; digit groups may be
// separated by commas ("1,234,567", groups of three only); decimals, exponents ("1e-3"), fractions
// ("3/4", "-1/2") and LaTeX fractions ("\frac{3}{4}", "\dfrac{3}{4}") are read. nullopt for
// anything else, for a zero denominator, and for values that are not finite.
std::optional<double> ParseNumber(absl::string_view text);

// The last number in `text`, as written: a run of digits with its sign, digit-group commas,
// decimal point and fraction bar ("-1,234.5", "3/4"); trailing punctuation is not part of it.
// nullopt when the text holds no digit or the last run does not read as a number.
std::optional<std::string> FindLastNumber(absl::string_view text);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_ANSWER_TEXT_H_

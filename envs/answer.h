// How a final answer is compared with the expected one: the few matching rules every built-in
// environment uses, named so a Prompt's reference can say which ("match" -> "integer").
//
// Why lenient in form and strict in substance: a model that writes " 42." or "1,234" has the
// answer; one that writes "about 42" has not. Every rule first cleans the answer (CleanAnswer),
// then compares exactly (or within the rounding of the expected number for kNumber).
#ifndef DSARL_ENVS_ANSWER_H_
#define DSARL_ENVS_ANSWER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "envs/environment.h"

namespace dsarl::envs {

enum class AnswerMatch {
  kInteger,  // same integer, any size: sign, leading zeros and digit-group commas ignored
  kNumber,   // same number to the precision the expected answer is written with ("2.50": 0.005)
  kText,     // same text ignoring case and runs of whitespace
  kList,     // same items in the same order; items split on commas/whitespace, brackets ignored,
             // each compared as kText
  kExact,    // same bytes after cleaning
};

// "integer", "number", "text", "list", "exact".
const char* AnswerMatchName(AnswerMatch match);
// The inverse of AnswerMatchName; InvalidArgument for any other name.
absl::StatusOr<AnswerMatch> ParseAnswerMatch(absl::string_view name);

// Strips surrounding whitespace, one pair of matching quotes or backticks, and one trailing period.
std::string CleanAnswer(absl::string_view answer);

// Score 1 when `given` matches `expected` under `match`, else 0; details say what was compared.
Verdict MatchAnswer(AnswerMatch match, absl::string_view expected, absl::string_view given);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_ANSWER_H_

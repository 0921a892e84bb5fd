// Answer-matching rewards: the final answer against the task's reference data.
//
//   exact_match       1 when the extracted answer equals a reference byte for byte (after
//                     trimming surrounding whitespace, unless trim=false), else 0
//   normalized_match  1 when they are equal after NormalizeAnswer (answer_text.h), else 0
//   numeric_match     1 when both read as numbers (ParseNumber) within tolerance, else 0
//
// Parameters (all optional):
//   reference_key  which Prompt.reference entry holds the expected answer ("answer")
//   separator      when set, the reference is split on it and any part may match ("" = one answer)
//   extract        where the answer is in the final answer: full, boxed, answer_tag, last_line,
//                  or (numeric_match only) last_number. Default "full"
//   trim           exact_match: trim surrounding whitespace first ("true")
//   case_sensitive, strip_punctuation, remove_articles   normalized_match (NormalizeOptions)
//   abs_tol, rel_tol   numeric_match: |a - b| <= max(abs_tol, rel_tol * |b|), b the reference
//                      (defaults 1e-6 and 1e-9)
//
// Outcomes per sample: not applicable when the task has no such reference entry (details say
// which key) and, for numeric_match, when the reference is not a number; value 0 when the answer
// part cannot be extracted or read; 1 or 0 otherwise. Details show what was compared.
#ifndef DSARL_REWARDS_MATCH_H_
#define DSARL_REWARDS_MATCH_H_

#include <memory>

#include "absl/status/statusor.h"
#include "rewards/params.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

// Each returns InvalidArgument for a bad parameter value (unknown extract mode, negative
// tolerance, empty reference_key).
absl::StatusOr<std::unique_ptr<RewardFunction>> NewExactMatch(const Params& params);
absl::StatusOr<std::unique_ptr<RewardFunction>> NewNormalizedMatch(const Params& params);
absl::StatusOr<std::unique_ptr<RewardFunction>> NewNumericMatch(const Params& params);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_MATCH_H_

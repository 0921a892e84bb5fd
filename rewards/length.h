// Length rewards: what a response's length costs.
//
//   length_penalty  per sample, the soft overlong penalty of DAPO (arXiv 2503.14476), the
//                   shape DeepSeek-style recipes use to discourage running into the limit:
//                     0                          for n <= max_tokens - buffer_tokens
//                     -(n - (max - buffer)) / buffer   on the ramp up to max_tokens
//                     -1                         for n > max_tokens
//                   with n = Sample.num_generated_tokens. Weight scales it.
//   group_length    per group (Kimi k1.5, arXiv 2501.12599): with the group's shortest and
//                   longest lengths lo and hi, lambda = 0.5 - (n - lo) / (hi - lo) (0 when
//                   hi == lo); a correct sample gets lambda, a wrong one min(0, lambda).
//                   Correct means verdict score >= correct_threshold.
//
// Parameters:
//   length_penalty: max_tokens (required, > 0); buffer_tokens (0..max_tokens, default 0: a hard
//     step from 0 to -1 past max_tokens)
//   group_length: correct_threshold (default 1); required ("true": a sample without a verdict is
//     an infrastructure error; "false": that sample is not applicable)
#ifndef DSARL_REWARDS_LENGTH_H_
#define DSARL_REWARDS_LENGTH_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "rewards/params.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

// The length_penalty value for `n` generated tokens, in [-1, 0]. Requires 0 <= buffer <= max.
double SoftOverlongPenalty(int64_t n, int64_t max_tokens, int64_t buffer_tokens);

// InvalidArgument for a missing max_tokens or a bad parameter value.
absl::StatusOr<std::unique_ptr<RewardFunction>> NewLengthPenalty(const Params& params);
// InvalidArgument for a bad parameter value.
absl::StatusOr<std::unique_ptr<RewardFunction>> NewGroupLength(const Params& params);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_LENGTH_H_

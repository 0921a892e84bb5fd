// The environment verifier as a reward: the verdict the rollout obtained from the environment
// (Sample.verdict), read as data. rewards/ never calls an environment itself (DESIGN.md).
//
//   verifier   the verdict's score, in [0, 1]
//
// Parameters (all optional):
//   required   "true" (default): a sample without a verdict is an infrastructure error (the
//              environment should have been asked); "false": not applicable instead
//   threshold  when set, the value is 1 if score >= threshold, else 0 (a pass/fail reward from a
//              graded verifier)
//
// Outcomes per sample: the score (or 1/0 with a threshold), with the verdict's details; not
// applicable or FailedPrecondition without a verdict (see `required`); FailedPrecondition for a
// score that is NaN or outside [0, 1], which the environment contract forbids.
#ifndef DSARL_REWARDS_VERIFIER_H_
#define DSARL_REWARDS_VERIFIER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "rewards/params.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

// InvalidArgument for a bad parameter value.
absl::StatusOr<std::unique_ptr<RewardFunction>> NewVerifier(const Params& params);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_VERIFIER_H_

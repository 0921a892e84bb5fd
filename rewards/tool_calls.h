// Tool-call count: how many tools the episode called, as a logged number, a range check or a
// penalty past a budget.
//
//   tool_calls   by mode:
//                  count        the number counted (default)
//                  in_range     1 when min <= number <= max, else 0
//                  over_budget  -(number - max) when above max, else 0
//
// Parameters (all optional):
//   mode                   count | in_range | over_budget
//   what                   calls (default: every parsed call), errors (tool results the
//                          environment marked invalid), valid (calls - errors)
//   min                    in_range lower bound (default 0)
//   max                    in_range upper bound / over_budget budget; required by over_budget
//                          (in_range without max has no upper bound)
//   applies_without_tools  "false" (default): not applicable when the task offers no tools
#ifndef DSARL_REWARDS_TOOL_CALLS_H_
#define DSARL_REWARDS_TOOL_CALLS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "rewards/params.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

// InvalidArgument for a bad parameter value (unknown mode or what, min > max, negative bounds,
// over_budget without max).
absl::StatusOr<std::unique_ptr<RewardFunction>> NewToolCalls(const Params& params);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_TOOL_CALLS_H_

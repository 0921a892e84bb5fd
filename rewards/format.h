// The format reward: is every assistant turn well formed? Judged from the data the rollout put in
// the Sample: each turn's raw text (the think block is checked here, by CheckThinkBlock) and the
// rollout parser's verdict on it (Message.parse_error, which covers the tool-call markup).
//
//   format             1 when every enabled check passes, else 0
//   format.think       1 when every turn with raw text has one well-formed think block;
//                      not applicable when no turn kept its raw text
//   format.tool_calls  1 when no turn has a parse error (tool-call markup, stray markup). A
//                      turn whose think block already failed is not counted again here: its parse
//                      error is almost always that same problem
//   format.answer      (only with require_answer) 1 when the final answer is not blank
//
// Parameters (all optional):
//   think                "true": check think blocks
//   tool_calls           "true": check parse errors
//   require_reasoning    "false": also require non-blank reasoning in every think block
//   require_answer       "false": also require a non-blank final answer
//   starts_in_reasoning  "true": raw text starts inside the reasoning (the prompt ended with
//                        "<think>", SPEC §4); "false": it must open with "<think>" itself
//
// A sample without assistant turns scores 0.
#ifndef DSARL_REWARDS_FORMAT_H_
#define DSARL_REWARDS_FORMAT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rewards/params.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

struct ThinkCheck {
  bool ok = false;               // the turn has exactly one well-formed think block
  std::string problem;           // why not, for people; empty when ok
  bool empty_reasoning = false;  // the reasoning is blank (whitespace only); set when ok
};

// Checks the think block of one assistant turn's raw text. With `starts_in_reasoning` the text
// is the reasoning, then "</think>", then the rest; otherwise it must start (after whitespace)
// with "<think>". Either way exactly one "</think>" closes the reasoning and no other "<think>" or
// "</think>" appears anywhere in the turn.
ThinkCheck CheckThinkBlock(absl::string_view raw_text, bool starts_in_reasoning);

// InvalidArgument for a bad parameter value or when every check is disabled.
absl::StatusOr<std::unique_ptr<RewardFunction>> NewFormat(const Params& params);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_FORMAT_H_

// The built-in reward functions, registered under the names a config uses:
//   verifier          the environment's verdict (verifier.h)
//   exact_match, normalized_match, numeric_match   answer against reference (match.h)
//   format            well-formed think block and tool calls (format.h)
//   length_penalty    soft overlong penalty; group_length  Kimi-style group length reward
//                     (length.h)
//   language          script consistency (language.h)
//   tool_calls        tool-call count (tool_calls.h)
#ifndef DSARL_REWARDS_BUILTINS_H_
#define DSARL_REWARDS_BUILTINS_H_

#include "absl/status/status.h"
#include "rewards/registry.h"

namespace dsarl::rewards {

// Registers every built-in into `registry`. AlreadyExists when one of the names is taken.
absl::Status RegisterBuiltins(Registry* registry);

// A registry holding exactly the built-ins.
Registry BuiltinRegistry();

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_BUILTINS_H_

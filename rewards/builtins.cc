// The table of built-ins (see builtins.h).
#include "rewards/builtins.h"

#include "base/status_macros.h"
#include "rewards/format.h"
#include "rewards/language.h"
#include "rewards/length.h"
#include "rewards/match.h"
#include "rewards/tool_calls.h"
#include "rewards/verifier.h"

namespace dsarl::rewards {

absl::Status RegisterBuiltins(Registry* registry) {
  RETURN_IF_ERROR(
      registry->Register("verifier", "the environment's verdict score, in [0, 1]", NewVerifier));
  RETURN_IF_ERROR(registry->Register(
      "exact_match", "1 when the answer equals reference[reference_key]", NewExactMatch));
  RETURN_IF_ERROR(registry->Register("normalized_match",
                                     "1 when the answer equals the reference after normalization",
                                     NewNormalizedMatch));
  RETURN_IF_ERROR(registry->Register("numeric_match",
                                     "1 when the answer is the reference number within tolerance",
                                     NewNumericMatch));
  RETURN_IF_ERROR(registry->Register(
      "format", "1 when every turn has a well-formed think block and tool calls", NewFormat));
  RETURN_IF_ERROR(registry->Register(
      "length_penalty", "soft overlong penalty in [-1, 0] past max_tokens - buffer_tokens",
      NewLengthPenalty));
  RETURN_IF_ERROR(registry->Register(
      "group_length", "group-level length reward: shorter correct answers score higher",
      NewGroupLength));
  RETURN_IF_ERROR(
      registry->Register("language", "share of letters in the target script(s)", NewLanguage));
  RETURN_IF_ERROR(registry->Register(
      "tool_calls", "tool-call count, range check or over-budget penalty", NewToolCalls));
  return absl::OkStatus();
}

Registry BuiltinRegistry() {
  Registry registry;
  // Cannot fail on an empty registry: the names above are distinct and valid.
  absl::Status status = RegisterBuiltins(&registry);
  (void)status;
  return registry;
}

}  // namespace dsarl::rewards

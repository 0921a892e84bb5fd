// Reward functions from shared libraries implementing the C ABI of plugin_abi.h.
//
// Why a C ABI and dlopen (the same mechanism as environment plugins): a researcher builds a reward
// out of tree, in any language, against one small header, and points a config at the .so.
//
// Safety at the boundary: everything the plugin reads is built per call from the Sample and stays
// alive for the call; whatever it emits is checked (sample index, names, NaN); a non-zero return
// and any exception that escapes the plugin become Status errors (infrastructure errors on the
// trajectories), never a crash or a silent 0. A plugin that crashes or hangs still takes the
// process with it: run untrusted code as a remote reward service instead (remote.h).
#ifndef DSARL_REWARDS_PLUGIN_H_
#define DSARL_REWARDS_PLUGIN_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

// Loads the library at `path` (dlopen; a path without '/' is searched for by the dynamic
// loader) and creates one instance with `params`. The library stays loaded while the instance
// lives. Errors: NotFound when the file does not exist; FailedPrecondition when it does not load,
// lacks the dsarl_reward_plugin_get symbol, returns no table or one of another ABI version (the
// message names both versions) or with missing functions; InvalidArgument with the plugin's own
// message when its create fails.
//
// The instance's ScoreGroup returns the components the plugin emitted (every sample gets a
// Components, possibly empty), or Internal with the plugin's message when score fails or throws,
// or when it emits something invalid.
absl::StatusOr<std::unique_ptr<RewardFunction>> LoadPluginReward(
    const std::string& path, const std::map<std::string, std::string>& params);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_PLUGIN_H_

// Reward functions from shared libraries implementing the C ABI of plugin_abi.h.
//
// Why a C ABI and dlopen (the same mechanism as environment plugins): a researcher builds a reward
// out of tree, in any language, against one small header, and points a config at the .so.
//
// Safety at the boundary: plugins are held to what remote rewards are held to. Every call (create,
// score, destroy) runs on its own thread with the deadline of RewardsConfig.call_timeout_s; one
// score call's output (names, details and values emitted) has the bound of one remote reply,
// kMaxReplyBytes (base/reply_limits.h). Everything the plugin reads is copied into the call and
// stays alive as long as the call runs, even past its deadline; whatever it emits is checked
// (sample index, names, size); a non-zero return, an exception that escapes the plugin, a call
// past its deadline and an output over the bound become Status errors (infrastructure errors on
// the trajectories), never a crash, a wedged worker or a silent 0. A plugin that crashes the
// process (or calls exit) still takes the process with it: run untrusted code as a remote reward
// service instead (remote.h).
#ifndef DSARL_REWARDS_PLUGIN_H_
#define DSARL_REWARDS_PLUGIN_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

// Loads the library at `path` (dlopen; a path without '/' is searched for by the dynamic
// loader) and creates one instance with `params`, giving every call `call_timeout`. The library
// stays loaded while the instance lives or a call on it runs. Errors: InvalidArgument for a
// timeout that is not positive; NotFound when the file does not exist; FailedPrecondition when it
// does not load, lacks the dsarl_reward_plugin_get symbol, returns no table or one of another ABI
// version (the message names both versions) or with missing functions; InvalidArgument with the
// plugin's own message when its create fails or throws; DeadlineExceeded when create is late.
//
// The instance's ScoreGroup returns the components the plugin emitted (every sample gets a
// Components, possibly empty). Errors, each naming the plugin and its path: DeadlineExceeded when
// score does not return within `call_timeout` (the call is abandoned, not waited for);
// Unavailable at once while an earlier call is still running past its deadline (so a hung plugin
// cannot pile up threads; it serves again when that call returns); ResourceExhausted with the
// size when the call emits more than kMaxReplyBytes; Internal with the plugin's message when
// score fails or throws, or when it emits something invalid.
absl::StatusOr<std::unique_ptr<RewardFunction>> LoadPluginReward(
    const std::string& path, const std::map<std::string, std::string>& params,
    absl::Duration call_timeout);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_PLUGIN_H_

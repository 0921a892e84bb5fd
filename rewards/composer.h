// Composition: the configured reward functions (RewardsConfig) turned into one scalar reward per
// trajectory, with every component kept for logging.
//
// Each config entry (RewardComponentConfig) is one of:
//   * a function instance. params.type picks the function (default: the entry's name): a
//     registered name (builtins.h), "plugin" (params.plugin_path = the .so; the other params go
//     to the plugin) or "remote" (params.address = host:port, default the pool
//     rewards.remote_addresses; no other params). The function's own value (component name "")
//     is logged under the entry's name; its sub-components as "<entry>.<sub>" with weight 0.
//     For plugins and remotes, which emitted component is the entry's value: the one named "" or
//     like the entry, else params.primary, else the only one.
//   * an alias "<entry>.<sub>" (no params): gives a sub-component of another entry its own weight
//     and gate, without calling anything again (e.g. weight a judge's second score).
//
// Per trajectory:
//   reward = 0                                       if any gate is closed,
//            sum of weight * value over applicable components with weight != 0   otherwise.
//   A gate (gate: true) is closed when its component is applicable and < gate_threshold; a gate
//   whose component is not applicable does not close (the criterion does not apply). Weight 0
//   logs a component without using it. Not-applicable components add nothing.
//   Every component of every entry is reported, applicable or not, with its weight.
//
// Infrastructure errors: a function that fails (Status error) marks every trajectory of the group;
// a component whose value is NaN or infinite, an external function that emits no value for the
// entry, or duplicate names mark that trajectory. A marked trajectory gets reward 0 and
// infra_error set (ApplyToTrajectory also sets FINISH_INFRA_ERROR), so the learner can drop it;
// the components that did compute are still reported.
#ifndef DSARL_REWARDS_COMPOSER_H_
#define DSARL_REWARDS_COMPOSER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/config.pb.h"
#include "proto/data.pb.h"
#include "rewards/registry.h"
#include "rewards/remote.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

// The composed result for one trajectory.
struct ScoredSample {
  double reward = 0;  // the scalar the learner trains on (0 when gated or on infra error)
  // Every component, in config order (an entry's value, then its sub-components in the order
  // emitted), with the weight it was given (0: logged only).
  std::vector<proto::RewardComponent> components;
  bool gated = false;        // a gate closed: the reward is 0
  std::string gate_details;  // which gate, and why ("format = 0 < 1")
  std::string infra_error;   // non-empty: scoring failed; the reward must not be trained on
};

class Composer {
 public:
  // Builds every entry of `config`, with functions from `registry`. Errors: InvalidArgument for
  // an entry without a name, a duplicate name, a '.' in a function entry's name, an alias to no
  // entry or with params, bad or unknown params (naming the entry); NotFound for an unknown type;
  // a plugin's load errors (plugin.h).
  static absl::StatusOr<std::unique_ptr<Composer>> Create(const proto::RewardsConfig& config,
                                                          const Registry& registry);

  // Scores the G samples of one prompt. Returns samples.size() results, in order. Never fails
  // as a whole: failures become infra_error on the samples they touch (header comment).
  // Thread-safe: may be called from several threads at once.
  std::vector<ScoredSample> ScoreGroup(const proto::Prompt& task,
                                       absl::Span<const Sample> samples) const;

  // The entries' names, in config order.
  std::vector<std::string> entry_names() const;

  // The limit shared by the remote rewards (max_concurrency).
  const ConcurrencyLimit& remote_limit() const { return *remote_limit_; }

 private:
  struct Entry {
    std::string name;
    double weight = 1;
    bool gate = false;
    double gate_threshold = 1;
    std::unique_ptr<RewardFunction> fn;  // null for an alias
    bool external = false;               // plugin or remote: the primary rule applies
    std::string primary;                 // params.primary
  };

  Composer() = default;
  // The components of function entry `e` for one sample, named and weighted; "" or the error.
  std::string NameComponents(const Entry& e, const Components& emitted,
                             std::vector<proto::RewardComponent>* out) const;

  std::vector<Entry> entries_;
  std::shared_ptr<ConcurrencyLimit> remote_limit_;
};

// Records `scored` on `trajectory`: reward, reward_components (replaced), and on an infra error
// the message in infra_error and finish_reason FINISH_INFRA_ERROR.
void ApplyToTrajectory(const ScoredSample& scored, proto::Trajectory* trajectory);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_COMPOSER_H_

// The table of reward functions a config can name: built-ins (builtins.h) and anything a
// researcher compiles in. Filled once at start-up, then only read (STYLE.md: no global state; the
// caller owns the registry).
//
// Plugins (plugin.h) and remote services (remote.h) are not in the table: a config entry reaches
// them through its "type" parameter (composer.h).
#ifndef DSARL_REWARDS_REGISTRY_H_
#define DSARL_REWARDS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rewards/params.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

// Builds one configured instance. Reads its parameters from `params` (unknown keys are caught
// after it returns); InvalidArgument for bad parameter values.
using RewardFactory =
    std::function<absl::StatusOr<std::unique_ptr<RewardFunction>>(const Params& params)>;

class Registry {
 public:
  // Adds `name`. InvalidArgument for an empty name, one containing '.', or a name reserved for
  // the composer ("plugin", "remote"); AlreadyExists when the name is taken.
  absl::Status Register(const std::string& name, const std::string& summary, RewardFactory factory);

  bool Contains(const std::string& name) const { return entries_.count(name) > 0; }

  // Creates an instance of `name` with `params`. NotFound (listing the registered names) for an
  // unknown name; the factory's error; InvalidArgument when a parameter was not read by the
  // factory (a misspelt key).
  absl::StatusOr<std::unique_ptr<RewardFunction>> Create(const std::string& name,
                                                         const Params& params) const;

  // (name, summary) of every entry, sorted by name.
  std::vector<std::pair<std::string, std::string>> List() const;

 private:
  struct Entry {
    std::string summary;
    RewardFactory factory;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_REGISTRY_H_

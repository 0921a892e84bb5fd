// Environments from shared libraries that implement the C ABI of envs/plugin_abi.h.
//
// Every call into a plugin runs on its own thread with a deadline, inside a C++ try/catch, and
// what it reports through the host callbacks is checked before it is believed. Plugins are held to
// what remote servers are held to: the deadline is the same EnvsConfig.call_timeout_s, and one
// call's output (the text it reports) has the bound of one remote reply, kMaxReplyBytes
// (base/reply_limits.h). A call that times out (DeadlineExceeded), throws (Internal), reports more
// than the bound (ResourceExhausted, with the size), fails (Unavailable, with the plugin's message)
// or reports garbage (DataLoss) fails its episode with that Status (an infrastructure error, with
// the reason) and marks the episode broken; the environment and its other episodes go on. A timed
// out call keeps running detached; when it returns, its episode is closed.
#ifndef DSARL_ENVS_PLUGIN_H_
#define DSARL_ENVS_PLUGIN_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "envs/environment.h"
#include "envs/plugin_abi.h"
#include "envs/registry.h"

namespace dsarl::envs {

// A loaded plugin library. Never unloaded (a timed-out call may still be running in it).
class PluginLibrary {
 public:
  // dlopens `path` and reads its table. Errors: NotFound (no such file), FailedPrecondition (not
  // a loadable library, no entry symbol, a different ABI version, an incomplete table), Internal
  // (the entry function threw).
  static absl::StatusOr<std::shared_ptr<const PluginLibrary>> Load(const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::vector<std::string>& categories() const { return categories_; }
  const dsarl_env_plugin& table() const { return *table_; }

 private:
  PluginLibrary() = default;
  std::string path_, name_, version_;
  std::vector<std::string> categories_;
  const dsarl_env_plugin* table_ = nullptr;
};

// Builds the environment `spec` (a category `library` serves) in the plugin. Errors: the plugin's
// create failing, timing out, throwing, or reporting a ladder shorter than spec.difficulty.
absl::StatusOr<std::unique_ptr<Environment>> MakePluginEnvironment(
    std::shared_ptr<const PluginLibrary> library, const proto::EnvSpec& spec,
    absl::Duration call_timeout);

// Registry entries for every category of `library`: backend "plugin:PATH", no parameters, the
// ladder top the plugin reports for seed 0. Errors of creating that probe environment.
absl::StatusOr<std::vector<Category>> PluginCategories(std::shared_ptr<const PluginLibrary> library,
                                                       absl::Duration call_timeout);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_PLUGIN_H_

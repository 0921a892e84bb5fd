// Builds environments wherever they run: built-in categories, plugins (loaded by path) and remote
// servers (connected by address). This is what the rest of dsarl uses: a rollout worker rebuilds
// each stored EnvSpec through it, synthesis enumerates its registry.
#ifndef DSARL_ENVS_FACTORY_H_
#define DSARL_ENVS_FACTORY_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "envs/environment.h"
#include "envs/plugin.h"
#include "envs/registry.h"
#include "envs/remote.h"
#include "envs/sandbox.h"
#include "proto/config.pb.h"

namespace dsarl::envs {

// The sandbox policy `config` sets (sandbox_min_level, sandbox_cgroup); InvalidArgument naming
// the field for an unknown level.
absl::StatusOr<SandboxPolicy> SandboxPolicyOf(const proto::EnvsConfig& config);

class EnvFactory {
 public:
  // The built-in categories, then every category of config.plugin_paths and
  // config.remote_addresses (in that order); sets the process's sandbox policy from the config.
  // Errors: an unknown sandbox level, a plugin that does not load, a server that
  // does not answer Describe, or a category name served twice (AlreadyExists).
  static absl::StatusOr<std::unique_ptr<EnvFactory>> Create(const proto::EnvsConfig& config);

  const Registry& registry() const { return registry_; }
  absl::Duration call_timeout() const { return call_timeout_; }

  // The environment of `spec`: backend "" from the registry by category; "plugin:PATH" and
  // "remote:ADDRESS" through that plugin or server, loading or connecting on first use (so specs
  // read from a store work without the config that made them). Errors: NotFound for an unknown
  // category, InvalidArgument for an unknown backend, and those of building the environment.
  // Thread-safe.
  absl::StatusOr<std::unique_ptr<Environment>> Make(const proto::EnvSpec& spec);

 private:
  EnvFactory() = default;
  absl::StatusOr<std::shared_ptr<const PluginLibrary>> Plugin(const std::string& path);
  absl::StatusOr<std::shared_ptr<const RemoteServer>> Server(const std::string& address);

  Registry registry_;
  absl::Duration call_timeout_ = absl::Seconds(10);
  rpc::ClientSecurity security_;  // for remote servers: EnvsConfig.remote_token_file, remote_tls_ca
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const PluginLibrary>> plugins_;  // by path
  std::map<std::string, std::shared_ptr<const RemoteServer>> servers_;   // by address
};

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_FACTORY_H_

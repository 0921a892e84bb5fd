// EnvFactory (factory.h).
#include "envs/factory.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "envs/sandbox.h"

namespace dsarl::envs {

absl::StatusOr<SandboxPolicy> SandboxPolicyOf(const proto::EnvsConfig& config) {
  SandboxPolicy policy;
  absl::StatusOr<SandboxLevel> level = ParseSandboxLevel(config.sandbox_min_level());
  if (!level.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("envs.sandbox_min_level: ", level.status().message()));
  }
  policy.min_level = *level;
  policy.cgroup_parent = config.sandbox_cgroup();
  return policy;
}

absl::StatusOr<std::unique_ptr<EnvFactory>> EnvFactory::Create(const proto::EnvsConfig& config) {
  auto f = std::unique_ptr<EnvFactory>(new EnvFactory());
  f->call_timeout_ = absl::Seconds(config.call_timeout_s());
  if (!config.remote_token_file().empty()) {
    ASSIGN_OR_RETURN(f->security_.token, rpc::ReadTokenFile(config.remote_token_file()));
  }
  f->security_.tls_ca_file = config.remote_tls_ca();
  ASSIGN_OR_RETURN(SandboxPolicy policy, SandboxPolicyOf(config));
  SetSandboxPolicy(policy);
  RegisterBuiltinCategories(&f->registry_);
  for (const std::string& path : config.plugin_paths()) {
    ASSIGN_OR_RETURN(auto lib, f->Plugin(path));
    ASSIGN_OR_RETURN(std::vector<Category> cats, PluginCategories(lib, f->call_timeout_));
    for (Category& c : cats) RETURN_IF_ERROR(f->registry_.Add(std::move(c)));
  }
  for (const std::string& address : config.remote_addresses()) {
    ASSIGN_OR_RETURN(auto server, f->Server(address));
    for (Category& c : RemoteCategories(server, f->call_timeout_)) {
      RETURN_IF_ERROR(f->registry_.Add(std::move(c)));
    }
  }
  return f;
}

absl::StatusOr<std::shared_ptr<const PluginLibrary>> EnvFactory::Plugin(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = plugins_.find(path);
  if (it != plugins_.end()) return it->second;
  ASSIGN_OR_RETURN(auto lib, PluginLibrary::Load(path));
  plugins_[path] = lib;
  return lib;
}

absl::StatusOr<std::shared_ptr<const RemoteServer>> EnvFactory::Server(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = servers_.find(address);
  if (it != servers_.end()) return it->second;
  ASSIGN_OR_RETURN(std::shared_ptr<const RemoteServer> server,
                   RemoteServer::Connect(address, call_timeout_, security_));
  servers_[address] = server;
  return server;
}

absl::StatusOr<std::unique_ptr<Environment>> EnvFactory::Make(const proto::EnvSpec& spec) {
  const std::string& backend = spec.backend();
  if (backend.empty()) {
    const Category* c = registry_.Find(spec.category());
    if (c == nullptr) {
      return absl::NotFoundError(absl::StrCat("environment ", spec.id(), ": no category '",
                                              spec.category(), "' is registered"));
    }
    return c->build(spec);
  }
  if (absl::StartsWith(backend, "plugin:")) {
    ASSIGN_OR_RETURN(auto lib, Plugin(backend.substr(7)));
    return MakePluginEnvironment(lib, spec, call_timeout_);
  }
  if (absl::StartsWith(backend, "remote:")) {
    ASSIGN_OR_RETURN(auto server, Server(backend.substr(7)));
    return MakeRemoteEnvironment(server, spec, call_timeout_);
  }
  return absl::InvalidArgumentError(absl::StrCat("environment ", spec.id(), ": unknown backend '",
                                                 backend,
                                                 "' (use \"\", plugin:PATH or "
                                                 "remote:HOST:PORT)"));
}

}  // namespace dsarl::envs

// Internal to the sandbox: what its parent-side files share.
#ifndef DSARL_ENVS_SANDBOX_INTERNAL_H_
#define DSARL_ENVS_SANDBOX_INTERNAL_H_

#include <string>

#include "absl/status/status.h"
#include "envs/sandbox.h"

namespace dsarl::envs {

// Starts a namespaced child with an empty private root, as a run would, and sees it reach exec
// (of a program that is not there). OK when every namespace step works; otherwise the error
// names the step that failed (sandbox.cc).
absl::Status ProbeNamespaces();

// Facts about how a run ended that the attribution needs beyond the result.
struct RunFacts {
  bool cgroup_oom = false;
  bool cgroup_pids = false;
};

// Names the limit and the layer that stopped the program when our own kill did not already
// (sandbox_attribution.cc).
void AttributeLimit(const SandboxLimits& limits, const RunFacts& facts, SandboxResult* r);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_INTERNAL_H_

// Internal to the sandbox: the Landlock rules of a run, planned by the parent (paths and rights)
// and applied by the child right before exec (system calls only). Landlock's own structures are
// declared here so that older kernel headers do not matter.
#ifndef DSARL_ENVS_SANDBOX_LANDLOCK_H_
#define DSARL_ENVS_SANDBOX_LANDLOCK_H_

#include <cstdint>
#include <string>
#include <vector>

namespace dsarl::envs {

// The Landlock ABI version the kernel offers; 0 when it has none.
int ProbeLandlockAbi();

struct LandlockRule {
  std::string path;
  uint64_t access;
};

// What the program may touch: `handled` rights are denied except where a rule allows them.
struct LandlockPlan {
  int abi = 0;  // 0: no Landlock
  uint64_t handled_fs = 0;
  uint64_t handled_net = 0;  // TCP bind and connect (ABI 4+), never allowed
  uint64_t scoped = 0;       // signals and abstract UNIX sockets (ABI 6+)
  std::vector<LandlockRule> rules;
};

// The rules for a run: with `read_rules`, reading only `read_only` (files or directories),
// executing only `executables`, and with every right but execute in `work_dir`; without, only
// writes are handled (everything stays readable). `devices` (/dev/null, ...) may be read and
// written; `read_dirs` may be listed (the private root's /: names only). `scope` adds
// signal and abstract-socket scoping, and `net` TCP denial, where the ABI has them.
LandlockPlan PlanLandlock(int abi, bool read_rules, bool scope, bool net,
                          const std::vector<std::string>& read_only,
                          const std::vector<std::string>& executables, const std::string& work_dir,
                          const std::vector<std::string>& devices,
                          const std::vector<std::string>& read_dirs);

// Restricts the calling thread (and what it execs) to `plan`; no-op when plan.abi is 0. Returns
// 0, or -1 with errno set (a rule whose path is missing is skipped).
int ApplyLandlock(const LandlockPlan& plan);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_LANDLOCK_H_

// Internal to the sandbox: the cgroup v2 layer. Each run gets a cgroup of its own under a parent
// this process may write (a delegated cgroup: SandboxPolicy::cgroup_parent, else the cgroup this
// process is in when its memory and pids controllers can be enabled for children) with
// memory.max (resident memory and tmpfs pages, no swap), pids.max and, where the cpu controller
// is there, cpu.max. The parent process moves the child in before the child runs anything.
#ifndef DSARL_ENVS_SANDBOX_CGROUP_H_
#define DSARL_ENVS_SANDBOX_CGROUP_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "envs/sandbox.h"

namespace dsarl::envs {

// Where runs' cgroups go: `dir` ("" when there is none, and `why_not` says why).
struct CgroupParent {
  std::string dir;
  bool cpu = false;  // the cpu controller is enabled for children
  std::string why_not;
};
CgroupParent FindCgroupParent(const std::string& hint);

class RunCgroup {
 public:
  // A fresh cgroup under `parent` with the limits of `limits` (pids.max counts the sandbox's own
  // init too). Internal naming the file that could not be written.
  static absl::StatusOr<std::unique_ptr<RunCgroup>> Create(const CgroupParent& parent,
                                                           const SandboxLimits& limits);
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;
  // Kills what is left in it and removes it.
  ~RunCgroup();

  absl::Status Add(pid_t pid) const;
  // The memory limit killed something (memory.events: oom_kill).
  bool OomKilled() const;
  // Tasks could not fork for pids.max (pids.events: max).
  bool PidsLimited() const;
  // memory.peak where the kernel has it (5.19+), else 0.
  int64_t PeakBytes() const;

 private:
  explicit RunCgroup(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_CGROUP_H_

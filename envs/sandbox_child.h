// Internal to the sandbox (sandbox.cc): the child process from clone to exec, and the kernel
// restrictions it installs on itself (rlimits, a uid of its own, Landlock, seccomp).
//
// Everything the child needs is prepared by the parent (ChildSetup) before the child starts: it
// shares the parent's memory (CLONE_VM | CLONE_VFORK) and runs system calls and nothing else until
// exec.
#ifndef DSARL_ENVS_SANDBOX_CHILD_H_
#define DSARL_ENVS_SANDBOX_CHILD_H_

#include <linux/filter.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "envs/sandbox.h"

namespace dsarl::envs {

// Internal, with errno's text: "sandbox: <what>: <strerror(errno)>".
absl::Status SandboxErrno(absl::string_view what);

// The Landlock ABI version the kernel offers; 0 when it has none.
int ProbeLandlockAbi();
// Whether the seccomp network filter can be installed here (x86-64 and aarch64).
bool ProbeSeccomp();

// A Landlock ruleset (an fd) that lets the program write only under `dir` (and to /dev/null).
// Internal when a Landlock call fails.
absl::StatusOr<int> MakeRuleset(int abi, const std::string& dir);

// The descriptors the child gets: its standard streams, the write end of the pipe it reports a
// failed setup step on (close-on-exec), and the Landlock ruleset (-1: none).
struct ChildFds {
  int stdin_fd, stdout_fd, stderr_fd, err_fd, ruleset_fd;
};

// What the child does between clone and exec. Only system calls; on failure it reports
// (step, errno) on `fds.err_fd` and exits 127.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* dir;
  ChildFds fds;
  std::vector<std::pair<__rlimit_resource_t, rlimit>> rlimits;
  bool switch_uid;
  uid_t uid;
  sock_fprog seccomp;
  sigset_t signal_mask;  // the parent's mask, restored in the child before exec
};

// The plan of one run and the storage its pointers point into (argv, environment, seccomp
// program), so it can be neither copied nor moved; `argv` and `dir` must outlive it. The
// environment is fixed: PATH, HOME and TMPDIR (the private directory), LANG, and Python's
// no-bytecode, UTF-8 and hash-seed settings. Without `switch_uid`, RLIMIT_NPROC is raised by the
// tasks user `uid` already runs (the limit counts them too).
class ChildSetup {
 public:
  ChildSetup(const std::vector<std::string>& argv, const std::string& dir,
             const SandboxLimits& limits, const ChildFds& fds, bool switch_uid, uid_t uid);
  ChildSetup(const ChildSetup&) = delete;
  ChildSetup& operator=(const ChildSetup&) = delete;

  ChildPlan* plan() { return &plan_; }

 private:
  std::vector<char*> argv_;
  std::vector<std::string> env_;
  std::vector<char*> envp_;
  std::vector<sock_filter> seccomp_;
  ChildPlan plan_;
};

// Starts the child of `plan` as posix_spawn does (clone with CLONE_VM | CLONE_VFORK, every signal
// blocked across it; plan->signal_mask is set to the caller's mask) and returns its pid once the
// child has exec'd or exited. Internal when clone fails.
absl::StatusOr<pid_t> SpawnChild(ChildPlan* plan);

// The name of a setup step the child reported ("setrlimit", "execve", ...; "?" when unknown).
const char* ChildStepName(int step);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_CHILD_H_

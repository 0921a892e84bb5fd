// Internal to the sandbox (sandbox.cc): the child processes from clone to exec, and the kernel
// restrictions they install on themselves.
//
// Everything the children need is prepared by the parent (ChildSetup) before they start: they
// share the parent's memory (CLONE_VM) and run system calls and nothing else until exec. Two
// shapes:
//   plain       one child (CLONE_VFORK, as posix_spawn) that restricts itself and execs
//   namespaced  a child in new user, mount, PID, network, IPC and UTS namespaces, which waits
//               until the parent has written its uid/gid maps (and moved it into its cgroup),
//               builds the private root, and stays as the namespace's init: it starts the program
//               (CLONE_VFORK), reaps whatever is reparented to it, and when the program exits,
//               kills what is left, reports the program's wait status and the count it killed on
//               a pipe, and exits (which tears the namespace down)
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
#include "envs/sandbox_landlock.h"
#include "envs/sandbox_root.h"

namespace dsarl::envs {

// Internal, with errno's text: "sandbox: <what>: <strerror(errno)>".
absl::Status SandboxErrno(absl::string_view what);

// The descriptors the children get: the program's standard streams; the write end of the pipe a
// failed setup step is reported on (close-on-exec); for a namespaced run, the read end of the
// pipe the parent says "go" on and the write end of the pipe the init reports the program's end
// on (-1 otherwise).
struct ChildFds {
  int stdin_fd, stdout_fd, stderr_fd, err_fd;
  int go_fd = -1, exit_fd = -1;
};

// What the init reports on exit_fd when the program has ended.
struct InitReport {
  int wait_status;
  int leftovers;  // processes still running when the program exited
};

// Ids inside a namespaced run (mapped to a sandbox-only uid when dsarl runs as root, else to the
// invoking user).
constexpr uint32_t kInsideUid = 1000, kInsideGid = 1000;

// What the children do between clone and exec. Only system calls; on failure a child reports
// (step, errno) on `fds.err_fd` and exits 127.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* dir;  // the working directory of a plain run
  ChildFds fds;
  std::vector<std::pair<__rlimit_resource_t, rlimit>> rlimits;
  bool switch_uid;  // plain run as root: become `uid` with no groups
  uid_t uid;
  bool namespaces;
  bool drop_groups;                 // namespaced: setgroups is allowed, so clear the groups
  const RootPlan* root;             // namespaced: the private root
  LandlockPlan landlock;            // abi 0: none
  sock_fprog seccomp;               // len 0: none
  sigset_t signal_mask;             // the parent's mask, restored in the program before exec
  std::vector<char> program_stack;  // namespaced: the stack the init starts the program on
};

// The plan of one run and the storage its pointers point into (argv, environment), so it can be
// neither copied nor moved; `argv`, `dir` and `seccomp` must outlive it. The environment is
// fixed: PATH, HOME and TMPDIR (the working directory), LANG, and Python's no-bytecode, UTF-8 and
// hash-seed settings. A plain run without `switch_uid` raises RLIMIT_NPROC by the tasks its user
// already runs (the limit counts them too); a namespaced one counts its own user namespace only,
// plus its init.
class ChildSetup {
 public:
  ChildSetup(const std::vector<std::string>& argv, const std::string& dir,
             const SandboxLimits& limits, const ChildFds& fds, bool switch_uid, uid_t uid,
             bool namespaces, bool rlimit_memory, const std::vector<sock_filter>* seccomp);
  ChildSetup(const ChildSetup&) = delete;
  ChildSetup& operator=(const ChildSetup&) = delete;

  ChildPlan* plan() { return &plan_; }

 private:
  std::vector<char*> argv_;
  std::vector<std::string> env_;
  std::vector<char*> envp_;
  ChildPlan plan_;
};

// The namespaces of a namespaced run.
int NamespaceCloneFlags();

// Starts the first child of `plan` (every signal blocked across clone; plan->signal_mask is set
// to the caller's mask). Plain: returns once the child has exec'd or exited (CLONE_VFORK).
// Namespaced: returns at once, the child waiting on plan->fds.go_fd; `stack` must outlive the
// child's exec. Internal when clone fails (errno kept).
absl::StatusOr<pid_t> SpawnChild(ChildPlan* plan, std::vector<char>* stack);

// The name of a setup step a child reported ("setrlimit", "execve", "bind mount", ...).
const char* ChildStepName(int step);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_CHILD_H_

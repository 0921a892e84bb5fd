// The sandbox's children (sandbox_child.h): their plan, their start, and what they do until exec.
//
// The children are started like posix_spawn does it (clone with CLONE_VM, signals blocked): a
// fork of a process holding gigabytes would copy its page tables and make every later write of
// the parent fault, which costs more than the program it runs. Credentials are changed with raw
// system calls: libc's set*id wrappers would try to change those of every thread of the parent,
// whose memory the children share.
#include "envs/sandbox_child.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "envs/sandbox_syscall.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

namespace dsarl::envs {
namespace {

enum ChildStep {
  kStepSetpgid = 1,
  kStepDup2,
  kStepSetrlimit,
  kStepSetuid,
  kStepPdeathsig,
  kStepChdir,
  kStepNoNewPrivs,
  kStepLandlock,
  kStepSeccomp,
  kStepExecve,
  kStepGo,
  kStepInitIds,
  kStepCaps,
  kStepHostname,
  kStepCgroupNs,
  kStepStartProgram,
  kStepDropCaps,
};

// Threads (tasks) of user `uid` now, for RLIMIT_NPROC when we cannot switch to a fresh uid.
int CountTasksOfUser(uid_t uid) {
  int total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream status(entry.path() / "status");
    std::string line;
    bool mine = false;
    while (std::getline(status, line)) {
      if (absl::StartsWith(line, "Uid:")) {
        std::vector<std::string> f =
            absl::StrSplit(line, absl::ByAnyChar("\t "), absl::SkipEmpty());
        mine = f.size() > 1 && f[1] == std::to_string(uid);
      } else if (mine && absl::StartsWith(line, "Threads:")) {
        total += std::atoi(line.c_str() + 8);
      }
    }
  }
  return total;
}

[[noreturn]] void ChildFail(int err_fd, int step) {
  const int e[2] = {step, errno};
  (void)!write(err_fd, e, sizeof(e));
  _exit(127);
}

// Handlers are the parent's code running on shared memory: reset them while signals are blocked.
// Signals 32 and 33 are libc's own (its sigaction refuses them, setting errno).
void ResetSignalHandlers() {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig >= 32 && sig < SIGRTMIN) continue;
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
      sa.sa_handler = SIG_DFL;
      sigaction(sig, &sa, nullptr);
    }
  }
}

bool SetCaps(bool all) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  for (auto& d : data) {
    d.effective = all ? d.permitted : 0;
    if (!all) d.permitted = d.inheritable = 0;
  }
  return syscall(SYS_capset, &header, data) == 0;
}

// The restrictions every program gets, in the order that keeps each step possible: streams,
// limits, identity, then no new privileges, Landlock, seccomp (last: it allows none of the
// calls before it), and exec.
[[noreturn]] void RunProgram(const ChildPlan& c) {
  const int err_fd = c.fds.err_fd;
  if (!c.namespaces && setpgid(0, 0) != 0) ChildFail(err_fd, kStepSetpgid);
  if (dup2(c.fds.stdin_fd, 0) < 0 || dup2(c.fds.stdout_fd, 1) < 0 || dup2(c.fds.stderr_fd, 2) < 0) {
    ChildFail(err_fd, kStepDup2);
  }
  for (const auto& [resource, limit] : c.rlimits) {
    if (setrlimit(resource, &limit) != 0) ChildFail(err_fd, kStepSetrlimit);
  }
  if (c.switch_uid) {
    if (syscall(SYS_setgroups, 0, nullptr) != 0 ||
        syscall(SYS_setresgid, c.uid, c.uid, c.uid) != 0 ||
        syscall(SYS_setresuid, c.uid, c.uid, c.uid) != 0) {
      ChildFail(err_fd, kStepSetuid);
    }
  }
  if (c.namespaces) {
    // Nothing of the namespace's capabilities survives: not the bounding set, not on exec.
    for (int cap = 0; cap <= 63; ++cap) RawSyscall(SYS_prctl, PR_CAPBSET_DROP, cap);
    if (prctl(PR_SET_KEEPCAPS, 0) != 0 || !SetCaps(false)) ChildFail(err_fd, kStepDropCaps);
  }
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(err_fd, kStepPdeathsig);
  if (!c.namespaces && chdir(c.dir) != 0) ChildFail(err_fd, kStepChdir);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildFail(err_fd, kStepNoNewPrivs);
  if (ApplyLandlock(c.landlock) != 0) ChildFail(err_fd, kStepLandlock);
  sigprocmask(SIG_SETMASK, &c.signal_mask, nullptr);
  if (c.seccomp.len > 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &c.seccomp) != 0) {
    ChildFail(err_fd, kStepSeccomp);
  }
  // Close everything inherited except 0-2 and the error pipe (close-on-exec).
  if (err_fd > 3) syscall(SYS_close_range, 3, err_fd - 1, 0);
  syscall(SYS_close_range, err_fd + 1, ~0U, 0);
  execve(c.path, c.argv, c.envp);
  ChildFail(err_fd, kStepExecve);
}

[[noreturn]] void RunPlain(const ChildPlan& c) {
  ResetSignalHandlers();
  RunProgram(c);
}

int ProgramMain(void* plan) { RunProgram(*static_cast<const ChildPlan*>(plan)); }

// Closes every descriptor but `keep` (the clone copied the parent's whole table, which may hold
// pipes of other runs whose readers wait for EOF).
void CloseAllExcept(std::initializer_list<int> keep) {
  unsigned int from = 0;
  while (true) {
    // The lowest descriptor to keep at or above `from`.
    long next = -1;
    for (int fd : keep) {
      if (fd >= 0 && static_cast<unsigned int>(fd) >= from && (next < 0 || fd < next)) next = fd;
    }
    if (next < 0) break;
    if (static_cast<unsigned int>(next) > from) {
      RawSyscall(SYS_close_range, from, next - 1, 0);
    }
    from = static_cast<unsigned int>(next) + 1;
  }
  RawSyscall(SYS_close_range, from, ~0U, 0);
}

// Takes the inside ids the parent mapped, keeping the namespace's capabilities for the setup.
bool BecomeInsideUser(const ChildPlan& c) {
  if (prctl(PR_SET_KEEPCAPS, 1) != 0) return false;
  if (syscall(SYS_setresgid, kInsideGid, kInsideGid, kInsideGid) != 0) return false;
  if (c.drop_groups && syscall(SYS_setgroups, 0, nullptr) != 0) return false;
  if (syscall(SYS_setresuid, kInsideUid, kInsideUid, kInsideUid) != 0) return false;
  return true;
}

// The namespace's init: sets up, starts the program, reaps, reports, exits. Signals stay blocked
// here (SIGKILL from the parent still ends it, and the namespace with it).
[[noreturn]] void RunInit(const ChildPlan& c) {
  ResetSignalHandlers();
  const int err_fd = c.fds.err_fd;
  if (setpgid(0, 0) != 0) ChildFail(err_fd, kStepSetpgid);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(err_fd, kStepPdeathsig);
  char go = 0;
  ssize_t n;
  do {
    n = read(c.fds.go_fd, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) ChildFail(err_fd, kStepGo);
  CloseAllExcept({c.fds.stdin_fd, c.fds.stdout_fd, c.fds.stderr_fd, c.fds.err_fd, c.fds.exit_fd});
  if (!BecomeInsideUser(c)) ChildFail(err_fd, kStepInitIds);
  if (!SetCaps(true)) ChildFail(err_fd, kStepCaps);
  if (unshare(CLONE_NEWCGROUP) != 0) ChildFail(err_fd, kStepCgroupNs);
  if (sethostname("sandbox", 7) != 0) ChildFail(err_fd, kStepHostname);
  if (const int step = BuildRoot(*c.root); step != 0) ChildFail(err_fd, step);
  auto* stack = const_cast<char*>(c.program_stack.data());
  const pid_t program = clone(ProgramMain, stack + c.program_stack.size(),
                              CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<ChildPlan*>(&c));
  if (program < 0) ChildFail(err_fd, kStepStartProgram);
  // The program exec'd (or reported its failure): the parent sees EOF, and the program's streams
  // close when it does.
  CloseAllExcept({c.fds.exit_fd});
  InitReport report{0, 0};
  auto wait_any = [](int* status, int flags) {
    return RawSyscall(SYS_wait4, -1, reinterpret_cast<long>(status), flags | __WALL, 0);
  };
  while (true) {
    int status = 0;
    const long p = wait_any(&status, 0);
    if (p == program) {
      report.wait_status = status;
      break;
    }
    if (p < 0 && p != -EINTR) break;
  }
  // What is still running was left behind: count it as it is killed.
  int ignored = 0;
  while (wait_any(&ignored, WNOHANG) > 0) {
  }
  RawSyscall(SYS_kill, -1, SIGKILL);
  while (wait_any(&ignored, 0) > 0) ++report.leftovers;
  RawSyscall(SYS_write, c.fds.exit_fd, reinterpret_cast<long>(&report), sizeof(report));
  _exit(0);
}

int ChildMain(void* plan) {
  const auto* c = static_cast<const ChildPlan*>(plan);
  if (c->namespaces) RunInit(*c);
  RunPlain(*c);
}

}  // namespace

absl::Status SandboxErrno(absl::string_view what) {
  return absl::InternalError(absl::StrCat("sandbox: ", what, ": ", strerror(errno)));
}

int NamespaceCloneFlags() {
  return CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
}

ChildSetup::ChildSetup(const std::vector<std::string>& argv, const std::string& dir,
                       const SandboxLimits& limits, const ChildFds& fds, bool switch_uid, uid_t uid,
                       bool namespaces, bool rlimit_memory,
                       const std::vector<sock_filter>* seccomp) {
  for (const std::string& a : argv) argv_.push_back(const_cast<char*>(a.c_str()));
  argv_.push_back(nullptr);
  const std::string home = namespaces ? "/work" : dir;
  env_ = {"PATH=/usr/local/bin:/usr/bin:/bin",
          absl::StrCat("HOME=", home),
          absl::StrCat("TMPDIR=", home),
          "LANG=C.UTF-8",
          "PYTHONDONTWRITEBYTECODE=1",
          "PYTHONIOENCODING=utf-8",
          "PYTHONHASHSEED=0"};
  for (const std::string& e : env_) envp_.push_back(const_cast<char*>(e.c_str()));
  envp_.push_back(nullptr);
  const rlim_t cpu = static_cast<rlim_t>(std::ceil(std::max(limits.cpu_time_s, 0.001)));
  rlim_t nproc = static_cast<rlim_t>(limits.max_processes);
  if (namespaces) {
    nproc += 1;  // the init
  } else if (!switch_uid) {
    nproc += static_cast<rlim_t>(CountTasksOfUser(uid));
  }
  const rlim_t as = rlimit_memory ? rlim_t(limits.memory_bytes) : RLIM_INFINITY;
  plan_ = ChildPlan{
      .path = argv[0].c_str(),
      .argv = argv_.data(),
      .envp = envp_.data(),
      .dir = dir.c_str(),
      .fds = fds,
      .rlimits = {{RLIMIT_CPU, {cpu, cpu + 1}},
                  {RLIMIT_AS, {as, as}},
                  {RLIMIT_NPROC, {nproc, nproc}},
                  {RLIMIT_FSIZE, {rlim_t(limits.max_file_bytes), rlim_t(limits.max_file_bytes)}},
                  {RLIMIT_NOFILE, {rlim_t(limits.max_open_files), rlim_t(limits.max_open_files)}},
                  {RLIMIT_CORE, {0, 0}}},
      .switch_uid = switch_uid && !namespaces,
      .uid = uid,
      .namespaces = namespaces,
      .drop_groups = false,
      .root = nullptr,
      .landlock = {},
      .seccomp = {0, nullptr},
      .signal_mask = {},
      .program_stack = {}};
  if (seccomp != nullptr) {
    plan_.seccomp = {static_cast<unsigned short>(seccomp->size()),
                     const_cast<sock_filter*>(seccomp->data())};
  }
  if (namespaces) plan_.program_stack.resize(64 << 10);
}

absl::StatusOr<pid_t> SpawnChild(ChildPlan* plan, std::vector<char>* stack) {
  stack->resize(256 << 10);
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &plan->signal_mask);
  const int flags = CLONE_VM | SIGCHLD | (plan->namespaces ? NamespaceCloneFlags() : CLONE_VFORK);
  const pid_t pid = clone(ChildMain, stack->data() + stack->size(), flags, plan);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &plan->signal_mask, nullptr);
  if (pid < 0) {
    errno = clone_errno;
    return SandboxErrno("clone");
  }
  return pid;
}

const char* ChildStepName(int step) {
  switch (step) {
    case kStepSetpgid:
      return "setpgid";
    case kStepDup2:
      return "dup2";
    case kStepSetrlimit:
      return "setrlimit";
    case kStepSetuid:
      return "setuid";
    case kStepPdeathsig:
      return "pdeathsig";
    case kStepChdir:
      return "chdir";
    case kStepNoNewPrivs:
      return "no_new_privs";
    case kStepLandlock:
      return "landlock";
    case kStepSeccomp:
      return "seccomp";
    case kStepExecve:
      return "execve";
    case kStepGo:
      return "waiting for the uid map";
    case kStepInitIds:
      return "setresuid in the user namespace";
    case kStepCaps:
      return "capset";
    case kStepHostname:
      return "sethostname";
    case kStepCgroupNs:
      return "unshare(CLONE_NEWCGROUP)";
    case kStepStartProgram:
      return "clone of the program";
    case kStepDropCaps:
      return "dropping capabilities";
    case kStepMakePrivate:
      return "making / private";
    case kStepMountRoot:
      return "mounting the root tmpfs";
    case kStepRootMkdir:
      return "mkdir in the root";
    case kStepRootSymlink:
      return "symlink in the root";
    case kStepRootBind:
      return "bind mount";
    case kStepRootRemount:
      return "read-only remount of a bind";
    case kStepMountProc:
      return "mounting /proc";
    case kStepMountWork:
      return "mounting /work";
    case kStepWriteFile:
      return "writing a file to /work";
    case kStepRootReadOnly:
      return "read-only remount of the root";
    case kStepPivotRoot:
      return "pivot_root";
    case kStepDetachOld:
      return "detaching the old root";
    default:
      return "?";
  }
}

}  // namespace dsarl::envs

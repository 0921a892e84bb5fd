// The sandbox's child (sandbox_child.h): its restrictions (seccomp program, Landlock ruleset,
// rlimits), its plan, and its start.
//
// The child is started like posix_spawn does it (clone with CLONE_VM | CLONE_VFORK, signals
// blocked): a fork of a process holding gigabytes would copy its page tables and make every later
// write of the parent fault, which costs more than the program it runs.
#include "envs/sandbox_child.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

namespace dsarl::envs {
namespace {

// Landlock, declared here so older kernel headers do not matter.
constexpr uint64_t kFsWriteFile = 1ULL << 1;
constexpr uint64_t kFsWriteAbi1 = (1ULL << 1) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) |
                                  (1ULL << 7) | (1ULL << 8) | (1ULL << 9) | (1ULL << 10) |
                                  (1ULL << 11) | (1ULL << 12);
constexpr uint64_t kFsRefer = 1ULL << 13;                                     // ABI 2
constexpr uint64_t kFsTruncate = 1ULL << 14;                                  // ABI 3
constexpr uint64_t kScopeAbstractUnix = 1ULL << 0, kScopeSignal = 1ULL << 1;  // ABI 6
struct LandlockRulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
struct __attribute__((packed)) LandlockPathBeneath {
  uint64_t allowed_access;
  int32_t parent_fd;
};

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
constexpr bool kHaveSeccompArch = true;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
constexpr bool kHaveSeccompArch = true;
#else
constexpr uint32_t kAuditArch = 0;
constexpr bool kHaveSeccompArch = false;
#endif

constexpr uint32_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// The seccomp program: kill on socket() of any family but AF_UNIX (and on a foreign syscall ABI);
// EPERM for leaving the process group, tracing and namespaces; ENOSYS for clone3 (so libc falls
// back to clone, whose flags we can see) and io_uring (which can open sockets behind seccomp).
std::vector<sock_filter> SeccompProgram() {
  std::vector<sock_filter> p;
  auto stmt = [&](uint16_t code, uint32_t k) { p.push_back(BPF_STMT(code, k)); };
  auto jump = [&](uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
    p.push_back(BPF_JUMP(code, k, jt, jf));
  };
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  jump(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
#if defined(__x86_64__)
  jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);  // the x32 ABI
  stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
  jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
  jump(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
  jump(BPF_JMP | BPF_JSET | BPF_K, kNamespaceFlags, 0, 1);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  const std::pair<long, int> errno_rules[] = {
      {SYS_setsid, EPERM}, {SYS_setpgid, EPERM}, {SYS_ptrace, EPERM},          {SYS_unshare, EPERM},
      {SYS_setns, EPERM},  {SYS_clone3, ENOSYS}, {SYS_io_uring_setup, ENOSYS},
  };
  for (const auto& [nr, err] : errno_rules) {
    jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1);
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | static_cast<uint32_t>(err));
  }
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  return p;
}

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

[[noreturn]] void RunChild(const ChildPlan& c) {
  // Signals are blocked (the parent blocked them before clone). Handlers are the parent's code
  // running on shared memory, so reset them before unblocking; exec keeps the mask, so restore it.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
      sa.sa_handler = SIG_DFL;
      sigaction(sig, &sa, nullptr);
    }
  }
  sigprocmask(SIG_SETMASK, &c.signal_mask, nullptr);
  const int err_fd = c.fds.err_fd;
  if (setpgid(0, 0) != 0) ChildFail(err_fd, 1);
  if (dup2(c.fds.stdin_fd, 0) < 0 || dup2(c.fds.stdout_fd, 1) < 0 || dup2(c.fds.stderr_fd, 2) < 0) {
    ChildFail(err_fd, 2);
  }
  for (const auto& [resource, limit] : c.rlimits) {
    if (setrlimit(resource, &limit) != 0) ChildFail(err_fd, 3);
  }
  if (c.switch_uid) {
    // Raw system calls: libc's set*id wrappers would try to change the credentials of every thread
    // of the parent, whose memory this child shares.
    if (syscall(SYS_setgroups, 0, nullptr) != 0 ||
        syscall(SYS_setresgid, c.uid, c.uid, c.uid) != 0 ||
        syscall(SYS_setresuid, c.uid, c.uid, c.uid) != 0) {
      ChildFail(err_fd, 4);
    }
  }
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(err_fd, 5);
  if (chdir(c.dir) != 0) ChildFail(err_fd, 6);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildFail(err_fd, 7);
  if (c.fds.ruleset_fd >= 0) {
    if (syscall(SYS_landlock_restrict_self, c.fds.ruleset_fd, 0) != 0) ChildFail(err_fd, 8);
  }
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &c.seccomp) != 0) ChildFail(err_fd, 9);
  // Close everything inherited except 0-2 and the error pipe (close-on-exec).
  if (err_fd > 3) syscall(SYS_close_range, 3, err_fd - 1, 0);
  syscall(SYS_close_range, err_fd + 1, ~0U, 0);
  execve(c.path, c.argv, c.envp);
  ChildFail(err_fd, 10);
}

int ChildMain(void* plan) { RunChild(*static_cast<const ChildPlan*>(plan)); }

}  // namespace

absl::Status SandboxErrno(absl::string_view what) {
  return absl::InternalError(absl::StrCat("sandbox: ", what, ": ", strerror(errno)));
}

int ProbeLandlockAbi() {
  const long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, 1 /*VERSION*/);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

bool ProbeSeccomp() { return kHaveSeccompArch && prctl(PR_GET_SECCOMP) >= 0; }

absl::StatusOr<int> MakeRuleset(int abi, const std::string& dir) {
  uint64_t handled = kFsWriteAbi1 | (abi >= 2 ? kFsRefer : 0) | (abi >= 3 ? kFsTruncate : 0);
  LandlockRulesetAttr attr{handled, 0, 0};
  size_t size = sizeof(uint64_t);
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnix | kScopeSignal;
    size = sizeof(attr);
  }
  const int ruleset = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0));
  if (ruleset < 0) return SandboxErrno("landlock_create_ruleset");
  auto allow = [&](const char* path, uint64_t access) -> absl::Status {
    const int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return SandboxErrno(absl::StrCat("open ", path));
    LandlockPathBeneath rule{access, fd};
    const long r = syscall(SYS_landlock_add_rule, ruleset, 1 /*PATH_BENEATH*/, &rule, 0);
    const int err = errno;
    close(fd);
    errno = err;
    return r < 0 ? SandboxErrno(absl::StrCat("landlock_add_rule ", path)) : absl::OkStatus();
  };
  absl::Status s = allow(dir.c_str(), handled);
  if (s.ok()) s = allow("/dev/null", kFsWriteFile | (abi >= 3 ? kFsTruncate : 0));
  if (!s.ok()) {
    close(ruleset);
    return s;
  }
  return ruleset;
}

ChildSetup::ChildSetup(const std::vector<std::string>& argv, const std::string& dir,
                       const SandboxLimits& limits, const ChildFds& fds, bool switch_uid,
                       uid_t uid) {
  for (const std::string& a : argv) argv_.push_back(const_cast<char*>(a.c_str()));
  argv_.push_back(nullptr);
  env_ = {"PATH=/usr/local/bin:/usr/bin:/bin",
          absl::StrCat("HOME=", dir),
          absl::StrCat("TMPDIR=", dir),
          "LANG=C.UTF-8",
          "PYTHONDONTWRITEBYTECODE=1",
          "PYTHONIOENCODING=utf-8",
          "PYTHONHASHSEED=0"};
  for (const std::string& e : env_) envp_.push_back(const_cast<char*>(e.c_str()));
  envp_.push_back(nullptr);
  seccomp_ = SeccompProgram();
  const rlim_t cpu = static_cast<rlim_t>(std::ceil(std::max(limits.cpu_time_s, 0.001)));
  rlim_t nproc = static_cast<rlim_t>(limits.max_processes);
  if (!switch_uid) nproc += static_cast<rlim_t>(CountTasksOfUser(uid));
  plan_ = ChildPlan{
      .path = argv[0].c_str(),
      .argv = argv_.data(),
      .envp = envp_.data(),
      .dir = dir.c_str(),
      .fds = fds,
      .rlimits = {{RLIMIT_CPU, {cpu, cpu + 1}},
                  {RLIMIT_AS, {rlim_t(limits.memory_bytes), rlim_t(limits.memory_bytes)}},
                  {RLIMIT_NPROC, {nproc, nproc}},
                  {RLIMIT_FSIZE, {rlim_t(limits.max_file_bytes), rlim_t(limits.max_file_bytes)}},
                  {RLIMIT_NOFILE, {rlim_t(limits.max_open_files), rlim_t(limits.max_open_files)}},
                  {RLIMIT_CORE, {0, 0}}},
      .switch_uid = switch_uid,
      .uid = uid,
      .seccomp = {static_cast<unsigned short>(seccomp_.size()), seccomp_.data()}};
}

absl::StatusOr<pid_t> SpawnChild(ChildPlan* plan) {
  // The child's stack; the parent is suspended until the child execs or exits (CLONE_VFORK).
  std::vector<char> child_stack(256 << 10);
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &plan->signal_mask);
  const pid_t pid = clone(ChildMain, child_stack.data() + child_stack.size(),
                          CLONE_VM | CLONE_VFORK | SIGCHLD, plan);
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &plan->signal_mask, nullptr);
  if (pid < 0) {
    errno = fork_errno;
    return SandboxErrno("clone");
  }
  return pid;
}

const char* ChildStepName(int step) {
  static const char* kNames[] = {"?",         "setpgid",      "dup2",
                                 "setrlimit", "setuid",       "pdeathsig",
                                 "chdir",     "no_new_privs", "landlock_restrict_self",
                                 "seccomp",   "execve"};
  return step >= 0 && step <= 10 ? kNames[step] : "?";
}

}  // namespace dsarl::envs

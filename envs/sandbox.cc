// The sandbox (sandbox.h): fork, restrict, exec, watch, attribute, clean up.
//
// Everything the child needs (argv, environment, rlimits, the Landlock ruleset, the seccomp
// program) is prepared before the child starts: it runs system calls and nothing else until exec.
// The child is started like posix_spawn does it (clone with CLONE_VM | CLONE_VFORK, signals
// blocked): a fork of a process holding gigabytes would copy its page tables and make every later
// write of the parent fault, which costs more than the program it runs.
#include "envs/sandbox.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

namespace dsarl::envs {
namespace {

using Clock = std::chrono::steady_clock;

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

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat("sandbox: ", what, ": ", strerror(errno)));
}

// A Landlock ruleset that lets the program write only under `dir` (and to /dev/null).
absl::StatusOr<int> MakeRuleset(int abi, const std::string& dir) {
  uint64_t handled = kFsWriteAbi1 | (abi >= 2 ? kFsRefer : 0) | (abi >= 3 ? kFsTruncate : 0);
  LandlockRulesetAttr attr{handled, 0, 0};
  size_t size = sizeof(uint64_t);
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnix | kScopeSignal;
    size = sizeof(attr);
  }
  const int ruleset = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0));
  if (ruleset < 0) return Errno("landlock_create_ruleset");
  auto allow = [&](const char* path, uint64_t access) -> absl::Status {
    const int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return Errno(absl::StrCat("open ", path));
    LandlockPathBeneath rule{access, fd};
    const long r = syscall(SYS_landlock_add_rule, ruleset, 1 /*PATH_BENEATH*/, &rule, 0);
    const int err = errno;
    close(fd);
    errno = err;
    return r < 0 ? Errno(absl::StrCat("landlock_add_rule ", path)) : absl::OkStatus();
  };
  absl::Status s = allow(dir.c_str(), handled);
  if (s.ok()) s = allow("/dev/null", kFsWriteFile | (abi >= 3 ? kFsTruncate : 0));
  if (!s.ok()) {
    close(ruleset);
    return s;
  }
  return ruleset;
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

// A uid no one else uses, per (process, concurrent run), so RLIMIT_NPROC counts only this run.
uid_t SandboxUid() {
  static std::atomic<uint32_t> counter{0};
  return 200000 + static_cast<uid_t>(getpid() % 2048) * 32 + (counter++ % 32);
}

// What the child does between fork and exec. Only system calls; on failure it reports
// (step, errno) on `err_fd` and exits 127.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* dir;
  int stdin_fd, stdout_fd, stderr_fd, err_fd, ruleset_fd;
  std::vector<std::pair<__rlimit_resource_t, rlimit>> rlimits;
  bool switch_uid;
  uid_t uid;
  sock_fprog seccomp;
  sigset_t signal_mask;  // the parent's mask, restored in the child before exec
};

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
  if (setpgid(0, 0) != 0) ChildFail(c.err_fd, 1);
  if (dup2(c.stdin_fd, 0) < 0 || dup2(c.stdout_fd, 1) < 0 || dup2(c.stderr_fd, 2) < 0) {
    ChildFail(c.err_fd, 2);
  }
  for (const auto& [resource, limit] : c.rlimits) {
    if (setrlimit(resource, &limit) != 0) ChildFail(c.err_fd, 3);
  }
  if (c.switch_uid) {
    // Raw system calls: libc's set*id wrappers would try to change the credentials of every thread
    // of the parent, whose memory this child shares.
    if (syscall(SYS_setgroups, 0, nullptr) != 0 ||
        syscall(SYS_setresgid, c.uid, c.uid, c.uid) != 0 ||
        syscall(SYS_setresuid, c.uid, c.uid, c.uid) != 0) {
      ChildFail(c.err_fd, 4);
    }
  }
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(c.err_fd, 5);
  if (chdir(c.dir) != 0) ChildFail(c.err_fd, 6);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildFail(c.err_fd, 7);
  if (c.ruleset_fd >= 0) {
    if (syscall(SYS_landlock_restrict_self, c.ruleset_fd, 0) != 0) ChildFail(c.err_fd, 8);
  }
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &c.seccomp) != 0) ChildFail(c.err_fd, 9);
  // Close everything inherited except 0-2 and the error pipe (close-on-exec).
  if (c.err_fd > 3) syscall(SYS_close_range, 3, c.err_fd - 1, 0);
  syscall(SYS_close_range, c.err_fd + 1, ~0U, 0);
  execve(c.path, c.argv, c.envp);
  ChildFail(c.err_fd, 10);
}

int ChildMain(void* plan) { RunChild(*static_cast<const ChildPlan*>(plan)); }

const char* ChildStepName(int step) {
  static const char* kNames[] = {"?",         "setpgid",      "dup2",
                                 "setrlimit", "setuid",       "pdeathsig",
                                 "chdir",     "no_new_privs", "landlock_restrict_self",
                                 "seccomp",   "execve"};
  return step >= 0 && step <= 10 ? kNames[step] : "?";
}

// Kills the whole process group. One kill is enough: the kernel delivers it to every member under
// the task list lock, and a fork racing with it fails. Call it before the leader is reaped, so its
// pid (the group id) cannot have been reused.
void KillGroup(pid_t pgid) { kill(-pgid, SIGKILL); }

// Reads what is available from `fd` into `out`; false at EOF or error.
bool Drain(int fd, std::string* out, int64_t* total, int64_t cap, bool* over) {
  char buf[16384];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      const int64_t room = std::max<int64_t>(0, cap - *total);
      out->append(buf, static_cast<size_t>(std::min<int64_t>(n, room)));
      *total += n;
      if (*total > cap) *over = true;
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EINTR;
  }
}

void Attribute(const SandboxLimits& lim, SandboxResult* r) {
  if (r->limit != SandboxLimit::kNone) return;  // our own kill already said why
  const bool failed = r->exit_code != 0;
  auto says = [&](std::initializer_list<const char*> needles) {
    for (const char* n : needles) {
      if (absl::StrContains(r->stderr_text, n) || absl::StrContains(r->stdout_text, n)) return true;
    }
    return false;
  };
  if (r->term_signal == SIGXCPU ||
      (r->term_signal == SIGKILL && r->cpu_time_s >= std::ceil(lim.cpu_time_s))) {
    r->limit = SandboxLimit::kCpuTime;
    r->limit_message = absl::StrFormat("CPU time limit of %g s exceeded", lim.cpu_time_s);
  } else if (r->term_signal == SIGSYS) {
    r->limit = SandboxLimit::kNetwork;
    r->limit_message = "network access denied: the program opened a network socket";
  } else if (r->term_signal == SIGXFSZ) {
    r->limit = SandboxLimit::kFileSize;
    r->limit_message = absl::StrFormat("file size limit of %d bytes exceeded", lim.max_file_bytes);
  } else if (failed &&
             (says({"MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory"}) ||
              r->max_rss_bytes >= lim.memory_bytes * 9 / 10)) {
    r->limit = SandboxLimit::kMemory;
    r->limit_message = absl::StrFormat("memory limit of %d MiB reached", lim.memory_bytes >> 20);
  } else if (failed && says({"BlockingIOError", "Resource temporarily unavailable", "fork: retry",
                             "can't start new thread"})) {
    r->limit = SandboxLimit::kProcesses;
    r->limit_message = absl::StrFormat("process limit of %d reached", lim.max_processes);
  } else if (failed && says({"Permission denied", "Read-only file system", "PermissionError"})) {
    r->limit = SandboxLimit::kFilesystem;
    r->limit_message = "write denied: only the sandbox's own directory is writable";
  }
}

}  // namespace

const char* SandboxLimitName(SandboxLimit limit) {
  switch (limit) {
    case SandboxLimit::kNone:
      return "none";
    case SandboxLimit::kWallTime:
      return "wall_time";
    case SandboxLimit::kCpuTime:
      return "cpu_time";
    case SandboxLimit::kMemory:
      return "memory";
    case SandboxLimit::kProcesses:
      return "processes";
    case SandboxLimit::kOutput:
      return "output";
    case SandboxLimit::kFileSize:
      return "file_size";
    case SandboxLimit::kNetwork:
      return "network";
    case SandboxLimit::kFilesystem:
      return "filesystem";
  }
  return "?";
}

std::string SandboxResult::Summary() const {
  std::string s = term_signal != 0 ? absl::StrCat("killed by signal ", term_signal)
                                   : absl::StrCat("exit ", exit_code);
  if (limit != SandboxLimit::kNone) {
    absl::StrAppend(&s, "; stopped by ", SandboxLimitName(limit), ": ", limit_message);
  }
  return s;
}

const SandboxSupport& GetSandboxSupport() {
  static const SandboxSupport support = [] {
    SandboxSupport s;
    const long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, 1 /*VERSION*/);
    s.landlock_abi = abi > 0 ? static_cast<int>(abi) : 0;
    s.seccomp = kHaveSeccompArch && prctl(PR_GET_SECCOMP) >= 0;
    s.switch_uid = geteuid() == 0;
    return s;
  }();
  return support;
}

absl::StatusOr<std::string> FindPython() {
  if (access("/usr/bin/python3", X_OK) == 0) return std::string("/usr/bin/python3");
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/python3");
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError("no python3 found (looked for /usr/bin/python3 and on PATH)");
}

absl::StatusOr<SandboxResult> RunSandboxed(const std::vector<std::string>& argv,
                                           const SandboxOptions& options) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("sandbox: argv[0] must be an absolute program path");
  }
  const SandboxSupport& support = GetSandboxSupport();
  if (!support.seccomp) {
    return absl::FailedPreconditionError("sandbox: seccomp is unavailable on this machine");
  }
  if (support.landlock_abi == 0 && !options.allow_without_filesystem_isolation) {
    return absl::FailedPreconditionError(
        "sandbox: Landlock is unavailable (Linux 5.13+ with landlock in the LSM list), so writes "
        "outside the sandbox directory could not be stopped");
  }
  for (const auto& [name, content] : options.files) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return absl::InvalidArgumentError(absl::StrCat("sandbox: bad file name '", name, "'"));
    }
  }
  const SandboxLimits& lim = options.limits;

  // The private directory, owned by the program's user.
  std::string root = options.temp_root;
  if (root.empty()) root = getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp";
  std::string tmpl = absl::StrCat(root, "/dsarl-sandbox-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return Errno(absl::StrCat("mkdtemp in ", root));
  const std::string dir = tmpl;
  struct DirCleanup {
    std::string dir;
    ~DirCleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  const bool switch_uid = support.switch_uid;
  const uid_t uid = switch_uid ? SandboxUid() : getuid();
  for (const auto& [name, content] : options.files) {
    const std::string path = absl::StrCat(dir, "/", name);
    std::ofstream f(path, std::ios::binary);
    f << content;
    if (!f.good()) return Errno(absl::StrCat("writing ", path));
    if (switch_uid && chown(path.c_str(), uid, uid) != 0) return Errno("chown");
  }
  if (switch_uid && chown(dir.c_str(), uid, uid) != 0) return Errno("chown");

  // Standard input from an unlinked file, so any size is fine.
  int stdin_fd = -1;
  {
    const std::string path = absl::StrCat(dir, "/.stdin");
    std::ofstream f(path, std::ios::binary);
    f << options.stdin_text;
    f.close();
    stdin_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    unlink(path.c_str());
    if (stdin_fd < 0) return Errno("open stdin");
  }
  int out_pipe[2], err_pipe[2], status_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(status_pipe, O_CLOEXEC) != 0) {
    close(stdin_fd);
    return Errno("pipe2");
  }
  int ruleset = -1;
  if (support.landlock_abi > 0) {
    absl::StatusOr<int> r = MakeRuleset(support.landlock_abi, dir);
    if (!r.ok()) {
      for (int fd : {stdin_fd, out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], status_pipe[0],
                     status_pipe[1]}) {
        close(fd);
      }
      return r.status();
    }
    ruleset = *r;
  }

  // Everything the child needs, prepared here.
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                        absl::StrCat("HOME=", dir),
                                        absl::StrCat("TMPDIR=", dir),
                                        "LANG=C.UTF-8",
                                        "PYTHONDONTWRITEBYTECODE=1",
                                        "PYTHONIOENCODING=utf-8",
                                        "PYTHONHASHSEED=0"};
  std::vector<char*> cenv;
  for (const std::string& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  std::vector<sock_filter> program = SeccompProgram();
  const rlim_t cpu = static_cast<rlim_t>(std::ceil(std::max(lim.cpu_time_s, 0.001)));
  rlim_t nproc = static_cast<rlim_t>(lim.max_processes);
  if (!switch_uid) nproc += static_cast<rlim_t>(CountTasksOfUser(uid));
  ChildPlan plan{
      .path = argv[0].c_str(),
      .argv = cargv.data(),
      .envp = cenv.data(),
      .dir = dir.c_str(),
      .stdin_fd = stdin_fd,
      .stdout_fd = out_pipe[1],
      .stderr_fd = err_pipe[1],
      .err_fd = status_pipe[1],
      .ruleset_fd = ruleset,
      .rlimits = {{RLIMIT_CPU, {cpu, cpu + 1}},
                  {RLIMIT_AS, {rlim_t(lim.memory_bytes), rlim_t(lim.memory_bytes)}},
                  {RLIMIT_NPROC, {nproc, nproc}},
                  {RLIMIT_FSIZE, {rlim_t(lim.max_file_bytes), rlim_t(lim.max_file_bytes)}},
                  {RLIMIT_NOFILE, {rlim_t(lim.max_open_files), rlim_t(lim.max_open_files)}},
                  {RLIMIT_CORE, {0, 0}}},
      .switch_uid = switch_uid,
      .uid = uid,
      .seccomp = {static_cast<unsigned short>(program.size()), program.data()}};

  const auto start = Clock::now();
  // The child's stack; the parent is suspended until the child execs or exits (CLONE_VFORK).
  std::vector<char> child_stack(256 << 10);
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &plan.signal_mask);
  const pid_t pid = clone(ChildMain, child_stack.data() + child_stack.size(),
                          CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &plan.signal_mask, nullptr);
  for (int fd : {stdin_fd, out_pipe[1], err_pipe[1], status_pipe[1], ruleset}) {
    if (fd >= 0) close(fd);
  }
  if (pid < 0) {
    for (int fd : {out_pipe[0], err_pipe[0], status_pipe[0]}) close(fd);
    errno = fork_errno;
    return Errno("clone");
  }
  // The child either execs (EOF here) or reports which setup step failed.
  int report[2] = {0, 0};
  ssize_t got;
  do {
    got = read(status_pipe[0], report, sizeof(report));
  } while (got < 0 && errno == EINTR);
  close(status_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof(report))) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    waitpid(pid, nullptr, 0);
    return absl::InternalError(absl::StrCat("sandbox: ", ChildStepName(report[0]),
                                            " failed in the child: ", strerror(report[1])));
  }

  SandboxResult r;
  int64_t total = 0;
  bool over = false, out_open = true, err_open = true, exited = false;
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(lim.wall_time_s));
  auto stop = [&](SandboxLimit why, std::string message) {
    r.limit = why;
    r.limit_message = std::move(message);
    KillGroup(pid);
  };
  while (out_open || err_open || !exited) {
    const auto now = Clock::now();
    if (now >= deadline) {
      stop(SandboxLimit::kWallTime,
           absl::StrFormat("wall time limit of %g s exceeded", lim.wall_time_s));
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out_pipe[0], POLLIN, 0};
    if (err_open) fds[n++] = {err_pipe[0], POLLIN, 0};
    if (!exited && pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    if (pidfd < 0 && !exited) wait_ms = std::min(wait_ms, 5);
    if (n > 0 && poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
    if (out_open)
      out_open = Drain(out_pipe[0], &r.stdout_text, &total, lim.max_output_bytes, &over);
    if (err_open)
      err_open = Drain(err_pipe[0], &r.stderr_text, &total, lim.max_output_bytes, &over);
    if (over) {
      stop(SandboxLimit::kOutput,
           absl::StrFormat("output limit of %d bytes exceeded", lim.max_output_bytes));
      break;
    }
    if (!exited) {
      siginfo_t info{};
      if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
        exited = true;
        // Whatever it left running goes too, so the pipes reach EOF.
        KillGroup(pid);
      }
    }
  }
  KillGroup(pid);
  rusage usage{};
  int status = 0;
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  // Drain what is left after the kill (bounded: the group is gone).
  Drain(out_pipe[0], &r.stdout_text, &total, lim.max_output_bytes, &over);
  Drain(err_pipe[0], &r.stderr_text, &total, lim.max_output_bytes, &over);
  for (int fd : {out_pipe[0], err_pipe[0], pidfd}) {
    if (fd >= 0) close(fd);
  }
  r.wall_time_s = std::chrono::duration<double>(Clock::now() - start).count();
  r.cpu_time_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
                 usage.ru_stime.tv_usec * 1e-6;
  r.max_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  Attribute(lim, &r);
  return r;
}

}  // namespace dsarl::envs

// The sandbox's seccomp allowlist (sandbox_seccomp.h), built with libseccomp.
#include "envs/sandbox_seccomp.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace dsarl::envs {
namespace {

// What a Python program and the C library under it call. Names unknown to this architecture
// (open on aarch64) are skipped.
constexpr const char* kAllowed[] = {
    // files and descriptors
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "lseek",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "truncate",
    "ftruncate",
    "fallocate",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "fadvise64",
    "readahead",
    "flock",
    "fcntl",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "copy_file_range",
    "sendfile",
    "splice",
    "tee",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "umask",
    // memory
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "brk",
    "msync",
    "mincore",
    "membarrier",
    // signals and time
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigpending",
    "rt_sigtimedwait",
    "sigaltstack",
    "kill",
    "tgkill",
    "tkill",
    "pause",
    "alarm",
    "setitimer",
    "getitimer",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "times",
    "restart_syscall",
    // identity and limits
    "getpid",
    "gettid",
    "getppid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "getpgid",
    "getpgrp",
    "getsid",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "getrusage",
    "sysinfo",
    "uname",
    "capget",
    "getrandom",
    // threads and scheduling
    "futex",
    "futex_waitv",
    "get_robust_list",
    "set_robust_list",
    "set_tid_address",
    "rseq",
    "arch_prctl",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "getcpu",
    "getpriority",
    "setpriority",
    // processes
    "fork",
    "vfork",
    "execve",
    "wait4",
    "waitid",
    "exit",
    "exit_group",
    "pidfd_open",
    // waiting on descriptors
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "eventfd",
    "eventfd2",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "signalfd",
    "signalfd4",
    // on the ends of a socketpair
    "sendmsg",
    "recvmsg",
    "sendto",
    "recvfrom",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
};

constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

absl::Status Check(int rc, const char* what) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("sandbox: libseccomp ", what, ": ", strerror(-rc)));
}

int Nr(const char* name) { return seccomp_syscall_resolve_name(name); }

absl::Status AddRules(scmp_filter_ctx ctx) {
  for (const char* name : kAllowed) {
    const int nr = Nr(name);
    if (nr == __NR_SCMP_ERROR) continue;
    if (const int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0); rc != 0) {
      return Check(rc, name);
    }
  }
  // No sockets at all: network, and UNIX paths or abstract names, need one.
  if (const int rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, Nr("socket"), 0); rc != 0) {
    return Check(rc, "socket");
  }
  // Connected UNIX pairs (Python's socket.socketpair, multiprocessing's duplex pipes); a datagram
  // pair could be pointed at another address, so only stream and seqpacket.
  for (int type : {SOCK_STREAM, SOCK_SEQPACKET}) {
    if (const int rc = seccomp_rule_add(
            ctx, SCMP_ACT_ALLOW, Nr("socketpair"), 2, SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, static_cast<scmp_datum_t>(type)));
        rc != 0) {
      return Check(rc, "socketpair");
    }
  }
  // fork and threads, no namespaces; clone3 hides its flags in memory, so libc falls back to clone.
  if (const int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, Nr("clone"), 1,
                                      SCMP_A0(SCMP_CMP_MASKED_EQ, kNamespaceFlags, 0));
      rc != 0) {
    return Check(rc, "clone");
  }
  for (uint64_t bit = 1; bit != 0; bit <<= 1) {
    if ((kNamespaceFlags & bit) == 0) continue;
    if (const int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), Nr("clone"), 1,
                                        SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit));
        rc != 0) {
      return Check(rc, "clone");
    }
  }
  for (const char* name : {"setsid", "setpgid"}) {
    if (const int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), Nr(name), 0); rc != 0) {
      return Check(rc, name);
    }
  }
  for (unsigned long req : {TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX}) {
    if (const int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, Nr("ioctl"), 1,
                                        SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(req)));
        rc != 0) {
      return Check(rc, "ioctl");
    }
  }
  for (int option : {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP,
                     PR_CAPBSET_READ}) {
    if (const int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, Nr("prctl"), 1,
                                        SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(option)));
        rc != 0) {
      return Check(rc, "prctl");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<sock_filter>> Build() {
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ERRNO(ENOSYS)));
  if (ctx == nullptr) return absl::FailedPreconditionError("sandbox: seccomp_init failed");
  if (const int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      rc != 0) {
    return Check(rc, "seccomp_attr_set");
  }
  if (absl::Status s = AddRules(ctx.get()); !s.ok()) return s;
  // Exported through a memory file: libseccomp 2.5 writes BPF to a descriptor only.
  const int fd = memfd_create("dsarl-seccomp", MFD_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("sandbox: memfd_create: ", strerror(errno)));
  absl::Status s = Check(seccomp_export_bpf(ctx.get(), fd), "seccomp_export_bpf");
  std::vector<sock_filter> program;
  if (s.ok()) {
    const off_t size = lseek(fd, 0, SEEK_END);
    program.resize(static_cast<size_t>(size) / sizeof(sock_filter));
    if (size <= 0 || pread(fd, program.data(), static_cast<size_t>(size), 0) != size) {
      s = absl::InternalError("sandbox: reading the seccomp program back failed");
    }
  }
  close(fd);
  if (!s.ok()) return s;
  return program;
}

}  // namespace

absl::StatusOr<std::vector<sock_filter>> SeccompAllowlist() {
  static const auto* program = new absl::StatusOr<std::vector<sock_filter>>(Build());
  return *program;
}

}  // namespace dsarl::envs

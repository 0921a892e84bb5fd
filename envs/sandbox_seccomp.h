// Internal to the sandbox: the seccomp allowlist the program runs under, compiled once by
// libseccomp to a BPF program the child installs itself (prctl, a system call) before exec.
//
// A system call not on the list fails with ENOSYS (programs and libc fall back, as on an older
// kernel): mount, ptrace, unshare, setns, bpf, keyctl, io_uring, userfaultfd, memfd_create,
// execveat, connect, bind, chown, ... socket() of any family kills the process (there is no
// network, and no socket to connect to a UNIX path or abstract address); socketpair() is allowed
// for connected UNIX pairs only; clone() with namespace flags, setsid() and setpgid() fail with
// EPERM (the process group is how the program is killed without a PID namespace); ioctl and prctl
// are limited to the requests a Python program makes.
#ifndef DSARL_ENVS_SANDBOX_SECCOMP_H_
#define DSARL_ENVS_SANDBOX_SECCOMP_H_

#include <linux/filter.h>

#include <vector>

#include "absl/status/statusor.h"

namespace dsarl::envs {

// The compiled allowlist (cached). Internal when libseccomp fails (the message names the call);
// FailedPrecondition on an architecture libseccomp does not know.
absl::StatusOr<std::vector<sock_filter>> SeccompAllowlist();

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_SECCOMP_H_

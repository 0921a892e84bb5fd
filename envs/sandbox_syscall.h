// Internal to the sandbox: system calls that leave errno alone. A namespaced run's children
// share the memory, and so the thread-local errno, of the parent thread, which keeps running
// while they set up; a libc wrapper that fails in a child would change the parent's errno
// underneath it. The children use these for every call that may fail in a normal run.
#ifndef DSARL_ENVS_SANDBOX_SYSCALL_H_
#define DSARL_ENVS_SANDBOX_SYSCALL_H_

#include <sys/syscall.h>
#include <unistd.h>

namespace dsarl::envs {

// The kernel's result: >= 0, or -errno.
inline long RawSyscall(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = a3;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = nr;
  register long x0 __asm__("x0") = a0;
  register long x1 __asm__("x1") = a1;
  register long x2 __asm__("x2") = a2;
  register long x3 __asm__("x3") = a3;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
#else
#error "the sandbox supports x86-64 and aarch64"
#endif
}

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_SYSCALL_H_

// Runs untrusted code (the model's Python) in a child process, with limits and isolation:
//
//   time        wall clock (the parent kills the process group) and CPU (RLIMIT_CPU)
//   memory      address space (RLIMIT_AS)
//   processes   RLIMIT_NPROC, counted for a sandbox-only user id when we run as root
//   output      stdout + stderr captured up to a byte limit (more stops the program), and the size
//               of any file it writes (RLIMIT_FSIZE)
//   network     none: a seccomp filter kills the process on socket() of any family but AF_UNIX
//   filesystem  a private temporary directory is its working directory and the only place it can
//               write (Landlock); it is removed afterwards
//
// The program also cannot leave its process group (setsid/setpgid fail), trace other processes,
// or make namespaces, so killing the group at the end stops everything it started.
//
// Which limit stopped a program is read from how it ended: our own kill (wall time, output),
// SIGXCPU (CPU), SIGSYS (network), SIGXFSZ (file size). Denials that surface as an error inside
// the program (an allocation, a fork, a write outside its directory failing) are attributed from
// the error text it printed (MemoryError / ENOMEM, EAGAIN from fork, EACCES / EROFS) and, for
// memory, from its peak resident size; a program that catches those errors and carries on is
// stopped by the time limits instead.
//
// Linux only. Landlock needs Linux 5.13+; without it there is no filesystem isolation and Run
// returns FailedPrecondition unless the caller allows that explicitly.
#ifndef DSARL_ENVS_SANDBOX_H_
#define DSARL_ENVS_SANDBOX_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dsarl::envs {

struct SandboxLimits {
  double wall_time_s = 10;              // [seconds]
  double cpu_time_s = 5;                // [seconds], rounded up to whole seconds
  int64_t memory_bytes = 512LL << 20;   // address space [bytes]
  int max_processes = 16;               // processes and threads of the program [count]
  int64_t max_output_bytes = 64 << 10;  // stdout + stderr [bytes]
  int64_t max_file_bytes = 16 << 20;    // any one file it writes [bytes]
  int max_open_files = 64;              // [count]
};

enum class SandboxLimit {
  kNone,
  kWallTime,
  kCpuTime,
  kMemory,
  kProcesses,
  kOutput,
  kFileSize,
  kNetwork,
  kFilesystem,
};

// "none", "wall_time", "cpu_time", "memory", "processes", "output", "file_size", "network",
// "filesystem".
const char* SandboxLimitName(SandboxLimit limit);

struct SandboxOptions {
  SandboxLimits limits;
  // Files to create in the private directory before the program starts: name -> content.
  // Names are plain file names (no '/').
  std::map<std::string, std::string> files;
  std::string stdin_text;
  // Where the private directory is made; "" means $TMPDIR, else /tmp.
  std::string temp_root;
  // Run even when Landlock is unavailable (then the program may write wherever its user can).
  bool allow_without_filesystem_isolation = false;
};

struct SandboxResult {
  int exit_code = -1;       // the exit status when it exited, else -1
  int term_signal = 0;      // the signal that ended it, else 0
  std::string stdout_text;  // captured, at most limits.max_output_bytes with stderr_text
  std::string stderr_text;
  SandboxLimit limit = SandboxLimit::kNone;  // the limit that stopped it
  std::string limit_message;                 // "CPU time limit of 2 s exceeded", ...
  double wall_time_s = 0;
  double cpu_time_s = 0;
  int64_t max_rss_bytes = 0;

  // Exited 0 and no limit stopped it.
  bool ok() const { return exit_code == 0 && limit == SandboxLimit::kNone; }
  // One line for people: "exit 0" / "killed by signal 9; stopped by cpu_time: ...".
  std::string Summary() const;
};

// What this kernel and process offer (probed once, cached).
struct SandboxSupport {
  int landlock_abi = 0;     // 0: no Landlock (no filesystem isolation)
  bool seccomp = false;     // the network filter can be installed (x86-64 and aarch64)
  bool switch_uid = false;  // running as root: programs run as a sandbox-only user id
};
const SandboxSupport& GetSandboxSupport();

// Runs `argv` (argv[0] an absolute path) in a fresh private directory with `options`, waits for it
// and everything it started, and removes the directory. Returns the result whatever the program
// did; errors only when the sandbox itself cannot be set up: InvalidArgument (empty argv, relative
// program path, a bad file name), FailedPrecondition (no seccomp, or no Landlock unless allowed),
// Internal (a system call of the setup failed; the message names it).
absl::StatusOr<SandboxResult> RunSandboxed(const std::vector<std::string>& argv,
                                           const SandboxOptions& options);

// The Python interpreter the code environments run: /usr/bin/python3 when executable, else the
// first python3 on PATH; NotFound when there is none.
absl::StatusOr<std::string> FindPython();

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_H_

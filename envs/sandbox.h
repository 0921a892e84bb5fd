// Runs untrusted code (the model's Python) in a child process, contained by layers that each stop
// a class of escape on their own, so that one missing layer (an old kernel, a cluster without
// unprivileged user namespaces) leaves the others standing. docs/envs.md has the threat model.
//
//   namespaces     user, mount, PID, network, IPC and UTS namespaces (CLONE_NEW*): the program
//                  is root of nothing, sees a private root of read-only binds of only what its
//                  interpreter needs plus a fresh /proc of its own PID namespace, has no network
//                  interface at all, and everything it starts dies with it
//   disk quota     its working directory is a tmpfs of its own with a size and inode quota
//   seccomp        an allowlist (libseccomp): a system call not on it fails with ENOSYS; socket()
//                  of any family kills the program, so there is nothing to connect() with
//   Landlock       read, execute and write rules on the paths it may use (only the interpreter
//                  executes), and on Linux 6.12+ signal and abstract-socket scoping
//   cgroup         memory.max (resident memory, not address space), pids.max and cpu.max in a
//                  cgroup v2 of its own, where a delegated cgroup is writable
//   rlimits        CPU time, address space, processes, file size, open files (always)
//   uid            a sandbox-only uid when dsarl runs as root, no supplementary groups
//   watchdog       wall time and output bytes (the parent kills the program)
//
// Which layers are active is probed once (GetSandboxSupport) and reported in every result; a run
// refuses to start when the active layers are below the required SandboxLevel. The limit that
// stopped a program, and the layer that stopped it, are read from how it ended (our own kill,
// SIGXCPU, SIGSYS, SIGXFSZ, a cgroup OOM kill) or from the error it printed (ENOSYS, ENOENT on a
// path outside its directory, EROFS, EACCES, ENOSPC, ENETUNREACH, ESRCH, ENOMEM, EAGAIN); a
// program that catches those errors and carries on is stopped by the time limits instead.
//
// Linux only.
#ifndef DSARL_ENVS_SANDBOX_H_
#define DSARL_ENVS_SANDBOX_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dsarl::envs {

struct SandboxLimits {
  double wall_time_s = 10;              // [seconds]
  double cpu_time_s = 5;                // [seconds], rounded up to whole seconds
  int64_t memory_bytes = 512LL << 20;   // resident (cgroup) or address space (rlimit) [bytes]
  int max_processes = 16;               // processes and threads of the program [count]
  int64_t max_output_bytes = 64 << 10;  // stdout + stderr [bytes]
  int64_t max_file_bytes = 16 << 20;    // any one file it writes [bytes]
  int64_t max_disk_bytes = 64 << 20;    // all files it writes together [bytes]
  int max_files = 4096;                 // files and directories it creates [count]
  int max_open_files = 64;              // [count]
  double cpu_cores = 1;                 // CPU bandwidth when the cgroup layer is active [cores]
};

enum class SandboxLimit {
  kNone,
  kWallTime,
  kCpuTime,
  kMemory,
  kProcesses,
  kOutput,
  kFileSize,
  kDisk,
  kNetwork,
  kFilesystem,
  kSyscall,
  kSignal,
  kLeftover,
};

// "none", "wall_time", "cpu_time", "memory", "processes", "output", "file_size", "disk",
// "network", "filesystem", "syscall", "signal", "leftover_processes".
const char* SandboxLimitName(SandboxLimit limit);

// The layers (bits of a mask).
enum SandboxLayer : uint32_t {
  kLayerNone = 0,
  kLayerUserNs = 1u << 0,
  kLayerMountNs = 1u << 1,  // the private root
  kLayerPidNs = 1u << 2,
  kLayerNetNs = 1u << 3,
  kLayerIpcNs = 1u << 4,  // IPC and UTS
  kLayerDiskQuota = 1u << 5,
  kLayerSeccomp = 1u << 6,
  kLayerLandlockWrite = 1u << 7,
  kLayerLandlockRead = 1u << 8,   // read and execute rules (Landlock ABI 1+)
  kLayerLandlockScope = 1u << 9,  // signals and abstract sockets (ABI 6+)
  kLayerCgroup = 1u << 10,
  kLayerRlimits = 1u << 11,
  kLayerUid = 1u << 12,
  kLayerWatchdog = 1u << 13,
  kLayerLandlockNet = 1u << 14,  // TCP bind and connect denied (ABI 4+)
};
constexpr uint32_t kLayerNamespaces =
    kLayerUserNs | kLayerMountNs | kLayerPidNs | kLayerNetNs | kLayerIpcNs;
constexpr uint32_t kLayerAll = (1u << 15) - 1;

// "user_ns", "private_root", "pid_ns", "net_ns", "ipc_uts_ns", "disk_quota", "seccomp",
// "landlock_write", "landlock_read", "landlock_scope", "cgroup", "rlimits", "uid", "watchdog",
// "landlock_net";
// "none" for kLayerNone. One layer, not a mask.
const char* SandboxLayerName(uint32_t layer);
// "private_root,pid_ns,..." for a mask ("none" when empty).
std::string SandboxLayerNames(uint32_t mask);

// What a run must have, each level including the one below:
//   minimal   rlimits and the watchdog: for trusted code only
//   filtered  + the seccomp allowlist, and writes confined to its directory (Landlock or the
//             private root)
//   isolated  + the user, mount (private root), PID, network and IPC/UTS namespaces
//   strict    + Landlock read/execute rules and scoping (Linux 6.12+), and the cgroup
enum class SandboxLevel { kMinimal = 0, kFiltered = 1, kIsolated = 2, kStrict = 3 };
const char* SandboxLevelName(SandboxLevel level);
absl::StatusOr<SandboxLevel> ParseSandboxLevel(absl::string_view name);
// The highest level `layers` reach.
SandboxLevel LevelOfLayers(uint32_t layers);

struct SandboxOptions {
  SandboxLimits limits;
  // Files to create in the private directory before the program starts: name -> content.
  // Names are plain file names (no '/').
  std::map<std::string, std::string> files;
  std::string stdin_text;
  // Host paths (files or directories, absolute) the program may read, visible at the same path in
  // its private root; argv[0] and its ELF interpreter are added (executable). Symbolic links on
  // the way are recreated, so /lib64/ld-linux-x86-64.so.2 resolves as on the host.
  std::vector<std::string> read_only_paths;
  // Where the private directory is made on the host; "" means $TMPDIR, else /tmp.
  std::string temp_root;
  // Refuse to run below this (SandboxPolicy's level when unset).
  int min_level = -1;
  // Layers to leave out (tests: each layer is shown to stop an escape on its own).
  uint32_t disabled_layers = 0;
};

struct SandboxResult {
  int exit_code = -1;       // the exit status when it exited, else -1
  int term_signal = 0;      // the signal that ended it, else 0
  std::string stdout_text;  // captured, at most limits.max_output_bytes with stderr_text
  std::string stderr_text;
  SandboxLimit limit = SandboxLimit::kNone;  // the limit that stopped it
  uint32_t stopped_by = kLayerNone;          // the layer that stopped it (one bit)
  std::string limit_message;                 // "CPU time limit of 2 s exceeded", ...
  uint32_t layers = 0;                       // the layers that were active
  int leftover_processes = 0;                // processes still running when it exited (killed)
  double wall_time_s = 0;
  double cpu_time_s = 0;
  int64_t max_rss_bytes = 0;

  // Exited 0 and no limit stopped it.
  bool ok() const { return exit_code == 0 && limit == SandboxLimit::kNone; }
  // One line for people: "exit 0" / "killed by signal 9; stopped by cpu_time (rlimits): ...".
  std::string Summary() const;
};

// What this kernel and process offer (probed once, cached): the layers a run gets.
struct SandboxSupport {
  uint32_t layers = 0;      // kLayer* bits that work here
  int landlock_abi = 0;     // 0: no Landlock
  bool switch_uid = false;  // running as root: programs run as a sandbox-only uid
  std::string cgroup_dir;   // the cgroup v2 parent runs are made in ("" when none)
  // Why a layer is missing, one line each ("user_ns: clone(CLONE_NEWUSER): Operation not
  // permitted", "cgroup: no cgroup v2 hierarchy with the memory and pids controllers").
  std::vector<std::string> missing;
  bool seccomp() const { return (layers & kLayerSeccomp) != 0; }
};
const SandboxSupport& GetSandboxSupport();

// The process's sandbox settings (EnvsConfig: sandbox_min_level, sandbox_cgroup). Set once, before
// the first run; later calls change what later runs require.
struct SandboxPolicy {
  SandboxLevel min_level = SandboxLevel::kFiltered;
  // A cgroup v2 directory this process may make children in (a delegated cgroup); "" finds one.
  std::string cgroup_parent;
};
void SetSandboxPolicy(const SandboxPolicy& policy);
SandboxPolicy GetSandboxPolicy();

// FailedPrecondition naming the missing layers when this machine cannot reach `level`.
absl::Status CheckSandboxLevel(SandboxLevel level);

// Runs `argv` (argv[0] an absolute path to an ELF program) in a fresh private directory with
// `options`, waits for it and everything it started, and removes the directory. Returns the
// result whatever the program did; errors only when the sandbox itself cannot be set up:
// InvalidArgument (empty argv, relative program path, a bad file or path), FailedPrecondition
// (the layers here are below the required level), Internal (a system call of the setup failed;
// the message names it).
absl::StatusOr<SandboxResult> RunSandboxed(const std::vector<std::string>& argv,
                                           const SandboxOptions& options);

// The Python interpreter the code environments run: /usr/bin/python3 when executable, else the
// first python3 on PATH; NotFound when there is none.
absl::StatusOr<std::string> FindPython();

// What `python` (run as `python -I -S`) reads: its standard library, its extension modules and
// the shared libraries they load, found by running it once (cached per interpreter). Internal
// when it cannot be run.
absl::StatusOr<std::vector<std::string>> PythonReadPaths(const std::string& python);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_H_

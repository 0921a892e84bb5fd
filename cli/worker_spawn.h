// How `dsarl run` starts its worker processes, and how a worker ties its life to `dsarl run`.
//
// Spawning: `dsarl run` has threads (the learner, gRPC, RocksDB), and a child forked from a
// threaded process may deadlock on a lock another thread held at the fork (malloc's, stdio's)
// before it reaches exec. So workers are started with posix_spawn: argv, envp and the log file
// are made in the parent first, and between the clone and the exec only glibc's own
// async-signal-safe code runs (the file actions: stdin from /dev/null, stdout and stderr to the
// log, the lifeline as fd 3, every other descriptor closed).
//
// Dying with the parent, two ways, because each alone has a gap:
//  - A lifeline pipe. The parent holds the only write end (O_CLOEXEC, so no other child inherits
//    it); each worker gets the read end as fd 3 and watches it on a thread. Nobody writes, so the
//    read returns EOF exactly when the last write end closes: when `dsarl run` is gone, however it
//    died (SIGKILL included). This covers the whole life of the worker, from its exec on.
//  - PR_SET_PDEATHSIG(SIGKILL), which the worker sets on itself at start-up (posix_spawn cannot
//    set it). The kernel then kills the worker the moment its parent dies, even when the worker
//    is stuck where no thread of its own can act. Parent death before the prctl is not signalled,
//    so the worker checks getppid() against DSARL_PARENT_PID right after: a mismatch means the
//    parent is already gone. The kernel sends the signal when the parent *thread* that spawned the
//    worker ends, so `dsarl run` spawns only from its main thread, which outlives its workers.
#ifndef DSARL_CLI_WORKER_SPAWN_H_
#define DSARL_CLI_WORKER_SPAWN_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dsarl::cli {

// The environment variables of the contract between `dsarl run` and its workers.
inline constexpr char kParentPidEnv[] = "DSARL_PARENT_PID";
inline constexpr char kParentFdEnv[] = "DSARL_PARENT_FD";
// The descriptor number the lifeline has in every worker.
inline constexpr int kLifelineChildFd = 3;

// Everything a spawned process gets, made before it is spawned.
struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0]: the executable's path (not searched in PATH)
  std::vector<std::string> env;   // NAME=value: the child's whole environment
  std::string log_path;           // stdout and stderr, appended (created 0644); stdin /dev/null
  int lifeline_fd = -1;           // becomes kLifelineChildFd in the child; -1: none
};

// Spawns `spec`. Returns the child's pid; InvalidArgument for an empty argv; the errno of opening
// the log or of posix_spawn (which reports a failed exec too) as Internal, naming the path.
absl::StatusOr<pid_t> SpawnProcess(const SpawnSpec& spec);

// The parent's side of the lifeline pipe. Move-only; the destructor closes both ends (which tells
// every worker still watching to exit).
class ParentLifeline {
 public:
  // Internal with the errno when the pipe cannot be made.
  static absl::StatusOr<ParentLifeline> Create();
  ParentLifeline(ParentLifeline&& other) noexcept;
  ParentLifeline& operator=(ParentLifeline&& other) noexcept;
  ParentLifeline(const ParentLifeline&) = delete;
  ParentLifeline& operator=(const ParentLifeline&) = delete;
  ~ParentLifeline();

  // The read end, for SpawnSpec::lifeline_fd (close-on-exec here; the spawn maps it to fd 3).
  int child_end() const { return read_fd_; }
  // DSARL_PARENT_PID (this process) and DSARL_PARENT_FD entries for a child's environment.
  std::vector<std::string> ChildEnvironment() const;

 private:
  ParentLifeline(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}
  void Close();
  int read_fd_ = -1;
  int write_fd_ = -1;
};

// The worker's side, called first thing by `dsarl rollout`. Without DSARL_PARENT_PID in the
// environment (a worker started by hand or by a cluster launcher): OK, nothing done. Otherwise sets
// PR_SET_PDEATHSIG(SIGKILL) and returns FailedPrecondition when the parent is already gone
// (getppid() differs); with DSARL_PARENT_FD also starts a thread that exits the process (status
// 1, one line on stderr) when the lifeline reads EOF. InvalidArgument for a malformed value or
// an fd that is not a pipe.
absl::Status ExitWithParent();

}  // namespace dsarl::cli

#endif  // DSARL_CLI_WORKER_SPAWN_H_

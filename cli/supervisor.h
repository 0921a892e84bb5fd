// The supervisor of `dsarl run`'s worker processes: starts them (cli/worker_spawn.h), restarts one
// that exits while the learner still needs it, and gives up on one that keeps failing: a worker
// that fails rollout.max_worker_failures times within rollout.worker_failure_window_s stops the
// run, with that worker's last log lines in the error, instead of being restarted forever (a
// worker that cannot load its environment would otherwise restart hundreds of times a minute and
// hide its error in a log nobody reads). The window forgives the occasional crash of a long run.
#ifndef DSARL_CLI_SUPERVISOR_H_
#define DSARL_CLI_SUPERVISOR_H_

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/worker_spawn.h"

namespace dsarl::cli {

// The failures of one worker within a sliding window.
class FailureWindow {
 public:
  using Clock = std::chrono::steady_clock;
  FailureWindow(int max_failures, double window_s)
      : max_failures_(max_failures), window_(std::chrono::duration<double>(window_s)) {}
  // Records a failure at `now`; true when it is the max_failures-th within the window ending now.
  bool Record(Clock::time_point now);
  // Failures within the window as of the last Record.
  int count() const { return static_cast<int>(times_.size()); }
  // Seconds from the oldest failure in the window to the newest (0 with fewer than two).
  double span_s() const;

 private:
  int max_failures_;
  std::chrono::duration<double> window_;
  std::deque<Clock::time_point> times_;
};

// The last `max_lines` lines of the file at `path` (reading at most its last 64 KiB), each
// indented by two spaces; "  (empty)" or "  (unreadable: why)" when there is nothing to show.
std::string LogTail(const std::string& path, int max_lines);

// "status 3", "signal 11 (Segmentation fault)": a waitpid status in words.
std::string DescribeExit(int wait_status);

struct SupervisorOptions {
  int max_failures = 5;           // rollout.max_worker_failures
  double failure_window_s = 300;  // rollout.worker_failure_window_s
  int tail_lines = 20;            // log lines in the error of a worker given up on
};

struct WorkerProc {
  pid_t pid = -1;
  int restarts = 0;
  double peak_rss_mib = 0;  // highest VmHWM seen while polling
  std::string log_path;
};

class Supervisor {
 public:
  // Worker `index`'s argv, environment and log file; the supervisor adds the lifeline.
  using SpecFn = std::function<SpawnSpec(int index)>;
  // Called when worker `index` has exited (reaped), before it is restarted: the leases it held
  // can go back to the queue at once instead of when they expire.
  using ExitFn = std::function<void(int index)>;

  // Makes the lifeline and spawns workers 0..n-1; `on_exit` may be empty. Errors: the
  // lifeline's, or the first spawn's (the workers already spawned are killed).
  static absl::StatusOr<std::unique_ptr<Supervisor>> Start(int n, SpecFn spec,
                                                           SupervisorOptions options,
                                                           ExitFn on_exit = nullptr);
  // Kills (SIGKILL) and reaps the workers still running.
  ~Supervisor();

  // Reaps the workers that exited and restarts them. Every exit counts as a failure, status 0
  // included (a worker exits while the learner still needs it), and so does a failed spawn. Returns
  // OK, or FailedPrecondition when a worker has failed max_failures times within the window: the
  // message names the worker, its failures and how it last ended, and shows the last lines of its
  // log. That worker is not restarted. Call from the thread that called Start (the parent-death
  // signal follows the spawning thread).
  absl::Status Poll();

  // Stops every worker: SIGTERM first when `terminate` (otherwise they are expected to exit on
  // their own), SIGKILL for those still running after `grace_s`. Reaps them all.
  void Stop(bool terminate, double grace_s);

  const std::vector<WorkerProc>& workers() const { return workers_; }

 private:
  Supervisor(SpecFn spec, ExitFn on_exit, SupervisorOptions options, ParentLifeline lifeline)
      : spec_(std::move(spec)),
        on_exit_(std::move(on_exit)),
        options_(options),
        lifeline_(std::move(lifeline)) {}
  // Spawns worker `index` with the lifeline.
  absl::StatusOr<pid_t> SpawnWorker(int index);
  // Records a failure of worker `index` (`how` it ended); the give-up error, or OK after
  // restarting it.
  absl::Status Failed(int index, const std::string& how);

  SpecFn spec_;
  ExitFn on_exit_;
  SupervisorOptions options_;
  ParentLifeline lifeline_;
  std::vector<WorkerProc> workers_;
  std::vector<FailureWindow> failures_;
};

}  // namespace dsarl::cli

#endif  // DSARL_CLI_SUPERVISOR_H_

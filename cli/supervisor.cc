// The worker supervisor of `dsarl run`: spawn, reap, restart, and the failure window.
#include "cli/supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/log.h"

namespace dsarl::cli {
namespace {

// Peak resident set of a process from /proc/PID/status (VmHWM), in MiB; 0 when unreadable.
double PeakRssMiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::string WorkerName(int index) { return absl::StrCat("worker-", index); }

}  // namespace

bool FailureWindow::Record(Clock::time_point now) {
  times_.push_back(now);
  while (!times_.empty() && now - times_.front() > window_) times_.pop_front();
  return count() >= max_failures_;
}

double FailureWindow::span_s() const {
  if (times_.size() < 2) return 0;
  return std::chrono::duration<double>(times_.back() - times_.front()).count();
}

std::string LogTail(const std::string& path, int max_lines) {
  constexpr std::streamoff kMaxBytes = 64 << 10;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::StrCat("  (unreadable: ", std::strerror(errno), ")");
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - kMaxBytes);
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  // A cut at the 64 KiB mark leaves a partial first line: drop it.
  if (from > 0 && !lines.empty()) lines.erase(lines.begin());
  if (lines.empty()) return "  (empty)";
  const size_t first = lines.size() > size_t(max_lines) ? lines.size() - max_lines : 0;
  std::string out;
  for (size_t i = first; i < lines.size(); ++i)
    absl::StrAppend(&out, i > first ? "\n" : "", "  ", lines[i]);
  return out;
}

std::string DescribeExit(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    return absl::StrCat("signal ", sig, " (", strsignal(sig), ")");
  }
  return absl::StrCat("status ", WEXITSTATUS(wait_status));
}

absl::StatusOr<std::unique_ptr<Supervisor>> Supervisor::Start(int n, SpecFn spec,
                                                              SupervisorOptions options,
                                                              ExitFn on_exit) {
  absl::StatusOr<ParentLifeline> lifeline = ParentLifeline::Create();
  if (!lifeline.ok()) return lifeline.status();
  std::unique_ptr<Supervisor> s(
      new Supervisor(std::move(spec), std::move(on_exit), options, std::move(*lifeline)));
  s->workers_.resize(n);
  s->failures_.assign(n, FailureWindow(options.max_failures, options.failure_window_s));
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<pid_t> pid = s->SpawnWorker(i);
    if (!pid.ok()) return pid.status();  // the destructor kills those already started
    s->workers_[i].pid = *pid;
  }
  return s;
}

Supervisor::~Supervisor() { Stop(/*terminate=*/false, /*grace_s=*/0); }

absl::StatusOr<pid_t> Supervisor::SpawnWorker(int index) {
  SpawnSpec spec = spec_(index);
  for (std::string& e : lifeline_.ChildEnvironment()) spec.env.push_back(std::move(e));
  spec.lifeline_fd = lifeline_.child_end();
  workers_[index].log_path = spec.log_path;
  return SpawnProcess(spec);
}

absl::Status Supervisor::Failed(int index, const std::string& how) {
  FailureWindow& f = failures_[index];
  if (!f.Record(FailureWindow::Clock::now())) {
    DSARL_LOG_WARN("{}: {}; restarting (failure {}; {} within {} s stop the run)",
                   WorkerName(index), how, f.count(), options_.max_failures,
                   options_.failure_window_s);
    return absl::OkStatus();
  }
  const WorkerProc& w = workers_[index];
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s failed %d times in %.1f s (rollout.max_worker_failures %d within "
      "rollout.worker_failure_window_s %g); it is not restarted again, and the run stops.\n"
      "Its last failure: %s. The last lines of %s:\n%s",
      WorkerName(index), f.count(), f.span_s(), options_.max_failures, options_.failure_window_s,
      how, w.log_path, LogTail(w.log_path, options_.tail_lines)));
}

absl::Status Supervisor::Poll() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    WorkerProc& w = workers_[i];
    const int index = static_cast<int>(i);
    if (w.pid > 0) {
      w.peak_rss_mib = std::max(w.peak_rss_mib, PeakRssMiB(w.pid));
      int status = 0;
      if (waitpid(w.pid, &status, WNOHANG) != w.pid) continue;
      const pid_t old = w.pid;
      w.pid = -1;
      if (on_exit_) on_exit_(index);
      // Status 0 counts too: a plugin that calls exit(0) inside every episode would otherwise
      // be restarted forever. A worker told that the job is done exits as the run ends, which
      // costs it at most one failure of the window.
      const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      absl::Status give_up = Failed(
          index,
          absl::StrCat("pid ", old, " exited with ", DescribeExit(status),
                       clean ? " while the learner still needed it (a plugin calling exit?)" : ""));
      if (!give_up.ok()) return give_up;
    }
    absl::StatusOr<pid_t> pid = SpawnWorker(index);
    if (!pid.ok()) {
      absl::Status give_up = Failed(index, std::string(pid.status().message()));
      if (!give_up.ok()) return give_up;
      continue;  // the next poll tries again
    }
    w.pid = *pid;
    ++w.restarts;
  }
  return absl::OkStatus();
}

void Supervisor::Stop(bool terminate, double grace_s) {
  if (terminate) {
    for (const WorkerProc& w : workers_) {
      if (w.pid > 0) kill(w.pid, SIGTERM);
    }
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(0.0, grace_s));
  for (WorkerProc& w : workers_) {
    if (w.pid <= 0) continue;
    int status = 0;
    while (waitpid(w.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(w.pid, SIGKILL);
        waitpid(w.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    w.pid = -1;
  }
}

}  // namespace dsarl::cli

// The sandbox (sandbox.h), the parent's side: check the request, make the private directory and
// the descriptors, start the child (sandbox_child.h), watch it, reap it, say which limit stopped
// it, clean up.
#include "envs/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
#include "envs/sandbox_child.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace dsarl::envs {
namespace {

using Clock = std::chrono::steady_clock;

// A uid no one else uses, per (process, concurrent run), so RLIMIT_NPROC counts only this run.
uid_t SandboxUid() {
  static std::atomic<uint32_t> counter{0};
  return 200000 + static_cast<uid_t>(getpid() % 2048) * 32 + (counter++ % 32);
}

// Kills the whole process group. One kill is enough: the kernel delivers it to every member under
// the task list lock, and a fork racing with it fails. Call it before the leader is reaped, so its
// pid (the group id) cannot have been reused.
void KillGroup(pid_t pgid) { kill(-pgid, SIGKILL); }

// Refuses what the sandbox cannot run safely: a program given by a relative path, a machine
// without seccomp (or without Landlock, unless the caller allows it), a file name that is not a
// plain name.
absl::Status CheckRequest(const std::vector<std::string>& argv, const SandboxOptions& options,
                          const SandboxSupport& support) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("sandbox: argv[0] must be an absolute program path");
  }
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
  return absl::OkStatus();
}

// A fresh directory under `temp_root` ("": $TMPDIR, else /tmp).
absl::StatusOr<std::string> MakePrivateDir(const std::string& temp_root) {
  std::string root = temp_root;
  if (root.empty()) root = getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp";
  std::string tmpl = absl::StrCat(root, "/dsarl-sandbox-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return SandboxErrno(absl::StrCat("mkdtemp in ", root));
  return tmpl;
}

// Removes the private directory, with everything the program left in it.
struct DirCleanup {
  std::string dir;
  ~DirCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// Writes the caller's files into `dir`; with `switch_uid`, the files and `dir` are then owned by
// the program's user `uid`.
absl::Status FillPrivateDir(const std::string& dir, const std::map<std::string, std::string>& files,
                            bool switch_uid, uid_t uid) {
  for (const auto& [name, content] : files) {
    const std::string path = absl::StrCat(dir, "/", name);
    std::ofstream f(path, std::ios::binary);
    f << content;
    if (!f.good()) return SandboxErrno(absl::StrCat("writing ", path));
    if (switch_uid && chown(path.c_str(), uid, uid) != 0) return SandboxErrno("chown");
  }
  if (switch_uid && chown(dir.c_str(), uid, uid) != 0) return SandboxErrno("chown");
  return absl::OkStatus();
}

// The descriptors of one run: the program's stdin; pipes for its stdout, its stderr and the
// status of its setup (the child reports a failed step there; EOF means it exec'd); the Landlock
// ruleset (-1: none). [0] is the read end, [1] the write end.
struct RunFds {
  int stdin_fd = -1;
  int out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};
  int ruleset = -1;

  ChildFds ForChild() const { return {stdin_fd, out[1], err[1], status[1], ruleset}; }
};

// Opens the descriptors of a run in `dir`. Standard input comes from an unlinked file, so any size
// is fine. On error, closes what it opened before the failing step.
absl::Status OpenRunFds(const std::string& dir, const std::string& stdin_text, int landlock_abi,
                        RunFds* fds) {
  {
    const std::string path = absl::StrCat(dir, "/.stdin");
    std::ofstream f(path, std::ios::binary);
    f << stdin_text;
    f.close();
    fds->stdin_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    unlink(path.c_str());
    if (fds->stdin_fd < 0) return SandboxErrno("open stdin");
  }
  if (pipe2(fds->out, O_CLOEXEC) != 0 || pipe2(fds->err, O_CLOEXEC) != 0 ||
      pipe2(fds->status, O_CLOEXEC) != 0) {
    close(fds->stdin_fd);
    return SandboxErrno("pipe2");
  }
  if (landlock_abi > 0) {
    absl::StatusOr<int> r = MakeRuleset(landlock_abi, dir);
    if (!r.ok()) {
      for (int fd : {fds->stdin_fd, fds->out[0], fds->out[1], fds->err[0], fds->err[1],
                     fds->status[0], fds->status[1]}) {
        close(fd);
      }
      return r.status();
    }
    fds->ruleset = *r;
  }
  return absl::OkStatus();
}

// Starts the child, then closes the parent's copies of the child's descriptors. When clone fails,
// closes the parent's ends too and returns its Internal error.
absl::StatusOr<pid_t> Spawn(ChildPlan* plan, const RunFds& fds) {
  absl::StatusOr<pid_t> pid = SpawnChild(plan);
  for (int fd : {fds.stdin_fd, fds.out[1], fds.err[1], fds.status[1], fds.ruleset}) {
    if (fd >= 0) close(fd);
  }
  if (!pid.ok()) {
    for (int fd : {fds.out[0], fds.err[0], fds.status[0]}) close(fd);
  }
  return pid;
}

// The child either execs (EOF on the status pipe) or reports which setup step failed: then the
// child is reaped, the output pipes are closed, and the result is Internal, naming the step.
absl::Status AwaitExec(pid_t pid, const RunFds& fds) {
  int report[2] = {0, 0};
  ssize_t got;
  do {
    got = read(fds.status[0], report, sizeof(report));
  } while (got < 0 && errno == EINTR);
  close(fds.status[0]);
  if (got == static_cast<ssize_t>(sizeof(report))) {
    close(fds.out[0]);
    close(fds.err[0]);
    waitpid(pid, nullptr, 0);
    return absl::InternalError(absl::StrCat("sandbox: ", ChildStepName(report[0]),
                                            " failed in the child: ", strerror(report[1])));
  }
  return absl::OkStatus();
}

// The program's stdout and stderr as read so far: at most `cap` bytes of both together are kept.
struct OutputCapture {
  int64_t cap;
  int64_t total = 0;  // bytes read, kept or not
  bool over = false;  // total > cap

  // Reads what is available from `fd` into `out`; false at EOF or error.
  bool Drain(int fd, std::string* out) {
    char buf[16384];
    while (true) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n > 0) {
        const int64_t room = std::max<int64_t>(0, cap - total);
        out->append(buf, static_cast<size_t>(std::min<int64_t>(n, room)));
        total += n;
        if (total > cap) over = true;
        continue;
      }
      if (n == 0) return false;
      return errno == EAGAIN || errno == EINTR;
    }
  }
};

// Reads the program's output until it has exited and both pipes are at EOF. Stops it (kills the
// group; r->limit says why) when it runs past the wall time or writes past the output limit.
void Watch(pid_t pid, const RunFds& fds, const SandboxLimits& lim, Clock::time_point start,
           OutputCapture* output, SandboxResult* r) {
  bool out_open = true, err_open = true, exited = false;
  fcntl(fds.out[0], F_SETFL, O_NONBLOCK);
  fcntl(fds.err[0], F_SETFL, O_NONBLOCK);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(lim.wall_time_s));
  auto stop = [&](SandboxLimit why, std::string message) {
    r->limit = why;
    r->limit_message = std::move(message);
    KillGroup(pid);
  };
  while (out_open || err_open || !exited) {
    const auto now = Clock::now();
    if (now >= deadline) {
      stop(SandboxLimit::kWallTime,
           absl::StrFormat("wall time limit of %g s exceeded", lim.wall_time_s));
      break;
    }
    pollfd polled[3];
    int n = 0;
    if (out_open) polled[n++] = {fds.out[0], POLLIN, 0};
    if (err_open) polled[n++] = {fds.err[0], POLLIN, 0};
    if (!exited && pidfd >= 0) polled[n++] = {pidfd, POLLIN, 0};
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    if (pidfd < 0 && !exited) wait_ms = std::min(wait_ms, 5);
    if (n > 0 && poll(polled, n, wait_ms) < 0 && errno != EINTR) break;
    if (out_open) out_open = output->Drain(fds.out[0], &r->stdout_text);
    if (err_open) err_open = output->Drain(fds.err[0], &r->stderr_text);
    if (output->over) {
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
  if (pidfd >= 0) close(pidfd);
}

// Kills what is left of the group, reaps the program, reads the rest of its output, closes the
// pipes, and records how it ended, its times and its peak resident size.
void Reap(pid_t pid, const RunFds& fds, Clock::time_point start, OutputCapture* output,
          SandboxResult* r) {
  KillGroup(pid);
  rusage usage{};
  int status = 0;
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  // Drain what is left after the kill (bounded: the group is gone).
  output->Drain(fds.out[0], &r->stdout_text);
  output->Drain(fds.err[0], &r->stderr_text);
  close(fds.out[0]);
  close(fds.err[0]);
  r->wall_time_s = std::chrono::duration<double>(Clock::now() - start).count();
  r->cpu_time_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
                  usage.ru_stime.tv_usec * 1e-6;
  r->max_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  if (WIFEXITED(status)) r->exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r->term_signal = WTERMSIG(status);
}

// Names the limit that stopped the program when our own kill did not already: from the signal
// that ended it, else from the error text it printed and its peak resident size (sandbox.h).
void AttributeLimit(const SandboxLimits& lim, SandboxResult* r) {
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
    s.landlock_abi = ProbeLandlockAbi();
    s.seccomp = ProbeSeccomp();
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
  const SandboxSupport& support = GetSandboxSupport();
  RETURN_IF_ERROR(CheckRequest(argv, options, support));
  // The private directory, owned by the program's user.
  ASSIGN_OR_RETURN(const std::string dir, MakePrivateDir(options.temp_root));
  const DirCleanup cleanup{dir};
  const bool switch_uid = support.switch_uid;
  const uid_t uid = switch_uid ? SandboxUid() : getuid();
  RETURN_IF_ERROR(FillPrivateDir(dir, options.files, switch_uid, uid));
  RunFds fds;
  RETURN_IF_ERROR(OpenRunFds(dir, options.stdin_text, support.landlock_abi, &fds));
  // Everything the child needs, prepared here.
  ChildSetup setup(argv, dir, options.limits, fds.ForChild(), switch_uid, uid);

  const auto start = Clock::now();
  ASSIGN_OR_RETURN(const pid_t pid, Spawn(setup.plan(), fds));
  RETURN_IF_ERROR(AwaitExec(pid, fds));
  SandboxResult r;
  OutputCapture output{options.limits.max_output_bytes};
  Watch(pid, fds, options.limits, start, &output, &r);
  Reap(pid, fds, start, &output, &r);
  AttributeLimit(options.limits, &r);
  return r;
}

}  // namespace dsarl::envs

// The sandbox (sandbox.h), the parent's side: check the request against the layers this machine
// has, plan the run (private root, Landlock rules, limits), start the child (sandbox_child.h),
// give a namespaced child its uid map and cgroup, watch it, reap it, say what stopped it.
#include "envs/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "envs/sandbox_cgroup.h"
#include "envs/sandbox_child.h"
#include "envs/sandbox_internal.h"
#include "envs/sandbox_root.h"
#include "envs/sandbox_seccomp.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace dsarl::envs {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kDevices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                    "/dev/urandom"};

// A uid no one else uses, per (process, concurrent run), so RLIMIT_NPROC counts only this run.
uid_t SandboxUid() {
  static std::atomic<uint32_t> counter{0};
  return 200000 + static_cast<uid_t>(getpid() % 2048) * 32 + (counter++ % 32);
}

// Kills the whole process group (and so, for a namespaced run, its init and the namespace).
// Call it before the leader is reaped, so its pid (the group id) cannot have been reused.
void KillGroup(pid_t pgid) {
  kill(-pgid, SIGKILL);
  kill(pgid, SIGKILL);
}

absl::Status CheckRequest(const std::vector<std::string>& argv, const SandboxOptions& options,
                          uint32_t layers, SandboxLevel required) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("sandbox: argv[0] must be an absolute program path");
  }
  for (const auto& [name, content] : options.files) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return absl::InvalidArgumentError(absl::StrCat("sandbox: bad file name '", name, "'"));
    }
  }
  for (const std::string& p : options.read_only_paths) {
    if (p.empty() || p[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("sandbox: read-only path '", p, "' is not absolute"));
    }
  }
  const SandboxLevel have = LevelOfLayers(layers);
  if (have < required) {
    return absl::FailedPreconditionError(
        absl::StrCat("sandbox: the active layers (", SandboxLayerNames(layers), ") reach level '",
                     SandboxLevelName(have), "', below the required '", SandboxLevelName(required),
                     "'; `dsarl doctor` says what is missing and why"));
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
    if (dir.empty()) return;
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

// The descriptors of one run: the program's stdin (a memory file, so any size is fine); pipes
// for its stdout, its stderr and the status of its setup (a child reports a failed step there;
// EOF means the program exec'd); for a namespaced run, the "go" pipe and the init's report pipe.
// [0] is the read end, [1] the write end. Closes whatever is still open when destroyed.
struct RunFds {
  int stdin_fd = -1;
  int out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};
  int go[2] = {-1, -1}, exit[2] = {-1, -1};

  ~RunFds() {
    for (int* fd : {&stdin_fd, &out[0], &out[1], &err[0], &err[1], &status[0], &status[1], &go[0],
                    &go[1], &exit[0], &exit[1]}) {
      Close(fd);
    }
  }
  static void Close(int* fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  ChildFds ForChild() const { return {stdin_fd, out[1], err[1], status[1], go[0], exit[1]}; }
};

absl::Status OpenRunFds(const std::string& stdin_text, bool namespaces, RunFds* fds) {
  fds->stdin_fd = memfd_create("dsarl-sandbox-stdin", MFD_CLOEXEC);
  if (fds->stdin_fd < 0) return SandboxErrno("memfd_create");
  size_t done = 0;
  while (done < stdin_text.size()) {
    const ssize_t n = write(fds->stdin_fd, stdin_text.data() + done, stdin_text.size() - done);
    if (n <= 0) return SandboxErrno("writing stdin");
    done += static_cast<size_t>(n);
  }
  if (lseek(fds->stdin_fd, 0, SEEK_SET) != 0) return SandboxErrno("lseek");
  if (pipe2(fds->out, O_CLOEXEC) != 0 || pipe2(fds->err, O_CLOEXEC) != 0 ||
      pipe2(fds->status, O_CLOEXEC) != 0) {
    return SandboxErrno("pipe2");
  }
  if (namespaces && (pipe2(fds->go, O_CLOEXEC) != 0 || pipe2(fds->exit, O_CLOEXEC) != 0)) {
    return SandboxErrno("pipe2");
  }
  return absl::OkStatus();
}

bool WriteProcFile(pid_t pid, const char* name, const std::string& text) {
  return WriteControlFile(absl::StrCat("/proc/", pid, "/", name), text);
}

// Maps the namespaced child's inside ids to `outer` (a sandbox-only uid as root, else ourselves),
// puts it in `cgroup`, and lets it go. On error the child is killed and reaped.
absl::Status ReleaseChild(pid_t pid, bool as_root, uid_t outer, const RunCgroup* cgroup,
                          RunFds* fds) {
  absl::Status s;
  const std::string uid_map = absl::StrCat(kInsideUid, " ", as_root ? outer : geteuid(), " 1\n");
  const std::string gid_map = absl::StrCat(kInsideGid, " ", as_root ? outer : getegid(), " 1\n");
  if (!as_root && !WriteProcFile(pid, "setgroups", "deny")) s = SandboxErrno("writing setgroups");
  if (s.ok() && !WriteProcFile(pid, "uid_map", uid_map)) s = SandboxErrno("writing uid_map");
  if (s.ok() && !WriteProcFile(pid, "gid_map", gid_map)) s = SandboxErrno("writing gid_map");
  if (s.ok() && cgroup != nullptr) s = cgroup->Add(pid);
  if (s.ok() && write(fds->go[1], "g", 1) != 1) s = SandboxErrno("writing to the child");
  RunFds::Close(&fds->go[1]);
  if (!s.ok()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, __WALL);
  }
  return s;
}

// The child either execs (EOF on the status pipe) or reports which setup step failed: then the
// child is reaped and the result is Internal, naming the step.
absl::Status AwaitExec(pid_t pid, RunFds* fds) {
  int report[2] = {0, 0};
  ssize_t got;
  do {
    got = read(fds->status[0], report, sizeof(report));
  } while (got < 0 && errno == EINTR);
  RunFds::Close(&fds->status[0]);
  if (got == static_cast<ssize_t>(sizeof(report))) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, __WALL);
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

// Bytes and entries under `dir` (stops counting past `max_entries`): the disk watchdog of a run
// without its own tmpfs.
std::pair<int64_t, int> DirUsage(const std::string& dir, int max_entries) {
  int64_t bytes = 0;
  int entries = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) == 0) bytes += static_cast<int64_t>(st.st_blocks) * 512;
    if (++entries > max_entries) break;
  }
  return {bytes, entries};
}

// What Watch needs to know of the run.
struct WatchSpec {
  pid_t pid;
  const SandboxLimits* limits;
  Clock::time_point start;
  std::string disk_dir;  // watched for the disk limit ("" when a quota holds it)
};

// The directory is past the disk limit (measured at most every 100 ms).
bool OverDisk(const WatchSpec& w, Clock::time_point now, Clock::time_point* next_check) {
  if (w.disk_dir.empty() || now < *next_check) return false;
  *next_check = now + std::chrono::milliseconds(100);
  const auto [bytes, entries] = DirUsage(w.disk_dir, w.limits->max_files);
  return bytes > w.limits->max_disk_bytes || entries > w.limits->max_files;
}

// Reads the program's output until it has exited and both pipes are at EOF. Stops it (kills the
// group; r->limit says why) when it runs past the wall time, writes past the output limit, or
// (without a quota) fills its directory past the disk limit.
void Watch(const WatchSpec& w, RunFds* fds, OutputCapture* output, SandboxResult* r) {
  const SandboxLimits& lim = *w.limits;
  bool out_open = true, err_open = true, exited = false;
  fcntl(fds->out[0], F_SETFL, O_NONBLOCK);
  fcntl(fds->err[0], F_SETFL, O_NONBLOCK);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, w.pid, 0));
  const auto deadline = w.start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(lim.wall_time_s));
  auto next_disk_check = w.start;
  auto stop = [&](SandboxLimit why, std::string message) {
    r->limit = why;
    r->stopped_by = kLayerWatchdog;
    r->limit_message = std::move(message);
    KillGroup(w.pid);
  };
  while (out_open || err_open || !exited) {
    const auto now = Clock::now();
    if (now >= deadline) {
      stop(SandboxLimit::kWallTime,
           absl::StrFormat("wall time limit of %g s exceeded", lim.wall_time_s));
      break;
    }
    if (OverDisk(w, now, &next_disk_check)) {
      stop(SandboxLimit::kDisk, absl::StrFormat("disk limit of %d MiB or %d files exceeded",
                                                lim.max_disk_bytes >> 20, lim.max_files));
      break;
    }
    pollfd polled[3];
    int n = 0;
    if (out_open) polled[n++] = {fds->out[0], POLLIN, 0};
    if (err_open) polled[n++] = {fds->err[0], POLLIN, 0};
    if (!exited && pidfd >= 0) polled[n++] = {pidfd, POLLIN, 0};
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    if (pidfd < 0 && !exited) wait_ms = std::min(wait_ms, 5);
    if (!w.disk_dir.empty()) wait_ms = std::min(wait_ms, 100);
    if (n > 0 && poll(polled, n, wait_ms) < 0 && errno != EINTR) break;
    if (out_open) out_open = output->Drain(fds->out[0], &r->stdout_text);
    if (err_open) err_open = output->Drain(fds->err[0], &r->stderr_text);
    if (output->over) {
      stop(SandboxLimit::kOutput,
           absl::StrFormat("output limit of %d bytes exceeded", lim.max_output_bytes));
      break;
    }
    if (!exited) {
      siginfo_t info{};
      if (waitid(P_PID, w.pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == w.pid) {
        exited = true;
        // Whatever it left running goes too, so the pipes reach EOF.
        KillGroup(w.pid);
      }
    }
  }
  if (pidfd >= 0) close(pidfd);
}

// Kills what is left of the group, reaps the child, reads the rest of the output, and records
// how the program ended (from the init's report for a namespaced run), its times and its peak
// resident size.
void Reap(pid_t pid, RunFds* fds, Clock::time_point start, OutputCapture* output,
          SandboxResult* r) {
  KillGroup(pid);
  rusage usage{};
  int status = 0;
  while (wait4(pid, &status, __WALL, &usage) < 0 && errno == EINTR) {
  }
  // Drain what is left after the kill (bounded: the group is gone).
  output->Drain(fds->out[0], &r->stdout_text);
  output->Drain(fds->err[0], &r->stderr_text);
  if (fds->exit[0] >= 0) {
    RunFds::Close(&fds->exit[1]);
    InitReport report{};
    if (read(fds->exit[0], &report, sizeof(report)) == static_cast<ssize_t>(sizeof(report))) {
      status = report.wait_status;
      r->leftover_processes = report.leftovers;
    }
  }
  r->wall_time_s = std::chrono::duration<double>(Clock::now() - start).count();
  r->cpu_time_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
                  usage.ru_stime.tv_usec * 1e-6;
  r->max_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  if (WIFEXITED(status)) r->exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r->term_signal = WTERMSIG(status);
}

// Everything a run is made of, planned before the child starts.
struct RunPlan {
  uint32_t layers = 0;
  bool namespaces = false;
  bool as_root = false;
  uid_t uid = 0;
  std::string host_dir;  // plain runs: the private directory on the host
  RootPlan root;
  LandlockPlan landlock;
  const std::vector<sock_filter>* seccomp = nullptr;
};

absl::StatusOr<RunPlan> PlanRun(const std::vector<std::string>& argv, const SandboxOptions& options,
                                uint32_t layers) {
  RunPlan p;
  p.namespaces = (layers & kLayerNamespaces) == kLayerNamespaces;
  p.layers = layers;
  p.as_root = GetSandboxSupport().switch_uid;
  p.uid = p.as_root && (layers & (kLayerUid | kLayerUserNs)) ? SandboxUid() : getuid();
  std::vector<std::string> executables = {argv[0]};
  if (std::string interp = ElfInterpreter(argv[0]); !interp.empty()) executables.push_back(interp);
  std::vector<std::string> devices(std::begin(kDevices), std::end(kDevices));
  std::vector<std::string> read_only = options.read_only_paths;
  const bool read_rules = (layers & kLayerLandlockRead) != 0;
  const bool scope = (layers & kLayerLandlockScope) != 0;
  const bool net = (layers & kLayerLandlockNet) != 0;
  const int abi = (layers & kLayerLandlockWrite) ? GetSandboxSupport().landlock_abi : 0;
  if (p.namespaces) {
    ASSIGN_OR_RETURN(p.root, PlanRoot("/tmp", read_only, executables, options.limits.max_disk_bytes,
                                      options.limits.max_files, kInsideUid, kInsideGid));
    for (const auto& [name, content] : options.files) {
      p.root.files.push_back({absl::StrCat(p.root.work, "/", name), &content});
    }
    read_only.push_back("/proc");
    p.landlock =
        PlanLandlock(abi, read_rules, scope, net, read_only, executables, "/work", devices, {"/"});
  } else {
    ASSIGN_OR_RETURN(p.host_dir, MakePrivateDir(options.temp_root));
    p.landlock =
        PlanLandlock(abi, read_rules, scope, net, read_only, executables, p.host_dir, devices, {});
  }
  if (layers & kLayerSeccomp) {
    static const std::vector<sock_filter>* program = [] {
      absl::StatusOr<std::vector<sock_filter>> s = SeccompAllowlist();
      return s.ok() ? new std::vector<sock_filter>(*s) : nullptr;
    }();
    if (program == nullptr) return SeccompAllowlist().status();
    p.seccomp = program;
  }
  return p;
}

// Starts and runs the planned child to its end.
absl::StatusOr<SandboxResult> Execute(const std::vector<std::string>& argv,
                                      const SandboxOptions& options, RunPlan& plan) {
  const DirCleanup cleanup{plan.host_dir};
  const bool switch_uid = plan.as_root && (plan.layers & kLayerUid);
  if (!plan.namespaces) {
    RETURN_IF_ERROR(FillPrivateDir(plan.host_dir, options.files, switch_uid, plan.uid));
  }
  std::unique_ptr<RunCgroup> cgroup;
  if (plan.layers & kLayerCgroup) {
    ASSIGN_OR_RETURN(
        cgroup, RunCgroup::Create({GetSandboxSupport().cgroup_dir, false, ""}, options.limits));
  }
  RunFds fds;
  RETURN_IF_ERROR(OpenRunFds(options.stdin_text, plan.namespaces, &fds));
  ChildSetup setup(argv, plan.host_dir, options.limits, fds.ForChild(), switch_uid, plan.uid,
                   plan.namespaces, cgroup == nullptr, plan.seccomp);
  ChildPlan* child = setup.plan();
  child->root = &plan.root;
  child->landlock = plan.landlock;
  child->drop_groups = plan.as_root;
  std::vector<char> stack;
  const auto start = Clock::now();
  ASSIGN_OR_RETURN(const pid_t pid, SpawnChild(child, &stack));
  // The parent's copies of the child's ends.
  for (int* fd : {&fds.stdin_fd, &fds.out[1], &fds.err[1], &fds.status[1], &fds.go[0]}) {
    RunFds::Close(fd);
  }
  if (plan.namespaces) {
    RETURN_IF_ERROR(ReleaseChild(pid, plan.as_root, plan.uid, cgroup.get(), &fds));
  }
  RETURN_IF_ERROR(AwaitExec(pid, &fds));
  SandboxResult r;
  r.layers = plan.layers;
  OutputCapture output{options.limits.max_output_bytes};
  Watch({pid, &options.limits, start, plan.namespaces ? "" : plan.host_dir}, &fds, &output, &r);
  Reap(pid, &fds, start, &output, &r);
  RunFacts facts;
  if (cgroup != nullptr) {
    facts.cgroup_oom = cgroup->OomKilled();
    facts.cgroup_pids = cgroup->PidsLimited();
    r.max_rss_bytes = std::max(r.max_rss_bytes, cgroup->PeakBytes());
  }
  AttributeLimit(options.limits, facts, &r);
  return r;
}

// The layers a run gets: those here, less those the caller leaves out (never the rlimits and the
// watchdog). The namespaces come together or not at all; Landlock's layers build on its rules.
uint32_t RunLayers(uint32_t supported, uint32_t disabled) {
  uint32_t layers = supported & ~(disabled & ~(kLayerRlimits | kLayerWatchdog));
  if ((layers & kLayerNamespaces) != kLayerNamespaces) {
    layers &= ~(kLayerNamespaces | kLayerDiskQuota);
  }
  if (!(layers & kLayerLandlockWrite)) {
    layers &= ~(kLayerLandlockRead | kLayerLandlockScope | kLayerLandlockNet);
  }
  return layers;
}

}  // namespace

std::string SandboxResult::Summary() const {
  std::string s = term_signal != 0 ? absl::StrCat("killed by signal ", term_signal)
                                   : absl::StrCat("exit ", exit_code);
  if (limit != SandboxLimit::kNone) {
    absl::StrAppend(&s, "; stopped by ", SandboxLimitName(limit), " (",
                    SandboxLayerName(stopped_by), "): ", limit_message);
  }
  return s;
}

absl::Status ProbeNamespaces() {
  RunFds fds;
  RETURN_IF_ERROR(OpenRunFds("", true, &fds));
  ASSIGN_OR_RETURN(RootPlan root, PlanRoot("/tmp", {}, {}, 1 << 20, 64, kInsideUid, kInsideGid));
  const std::vector<std::string> argv = {"/dsarl-sandbox-probe"};
  const bool as_root = geteuid() == 0;
  const uid_t uid = as_root ? SandboxUid() : getuid();
  ChildSetup setup(argv, "", SandboxLimits{}, fds.ForChild(), false, uid, true, true, nullptr);
  setup.plan()->root = &root;
  setup.plan()->drop_groups = as_root;
  std::vector<char> stack;
  ASSIGN_OR_RETURN(const pid_t pid, SpawnChild(setup.plan(), &stack));
  for (int* fd : {&fds.stdin_fd, &fds.out[1], &fds.err[1], &fds.status[1], &fds.go[0]}) {
    RunFds::Close(fd);
  }
  RETURN_IF_ERROR(ReleaseChild(pid, as_root, uid, nullptr, &fds));
  absl::Status s = AwaitExec(pid, &fds);  // reaps the child when it reported a step
  if (s.ok()) {
    // It exec'd a program that does not exist?  Then it is not our probe: refuse the layer.
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, __WALL);
    return absl::InternalError("sandbox: the namespace probe exec'd unexpectedly");
  }
  if (absl::StrContains(s.message(), "execve failed in the child: No such file or directory")) {
    return absl::OkStatus();
  }
  return s;
}

absl::StatusOr<SandboxResult> RunSandboxed(const std::vector<std::string>& argv,
                                           const SandboxOptions& options) {
  const SandboxSupport& support = GetSandboxSupport();
  const uint32_t layers = RunLayers(support.layers, options.disabled_layers);
  const SandboxLevel required = options.min_level >= 0
                                    ? static_cast<SandboxLevel>(options.min_level)
                                    : GetSandboxPolicy().min_level;
  RETURN_IF_ERROR(CheckRequest(argv, options, layers, required));
  ASSIGN_OR_RETURN(RunPlan plan, PlanRun(argv, options, layers));
  return Execute(argv, options, plan);
}

}  // namespace dsarl::envs

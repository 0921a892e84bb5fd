// Which limit, and which layer, stopped a sandboxed program (sandbox_internal.h). From how it
// ended when that is unambiguous (a signal, a cgroup event, processes left behind), else from
// the error it printed: best effort, since a program may print anything; the label only informs.
#include <signal.h>

#include <cmath>
#include <initializer_list>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "envs/sandbox_internal.h"

namespace dsarl::envs {
namespace {

void Stop(SandboxResult* r, SandboxLimit limit, uint32_t layer, std::string message) {
  r->limit = limit;
  r->stopped_by = layer;
  r->limit_message = std::move(message);
}

// The first of `preferred` that was active, else the last.
uint32_t ActiveOf(const SandboxResult& r, std::initializer_list<uint32_t> preferred) {
  uint32_t last = kLayerNone;
  for (uint32_t l : preferred) {
    if (r.layers & l) return l;
    last = l;
  }
  return last;
}

// "No such file or directory: '/etc/passwd'": a path outside the program's working directory.
// (/tmp is the working directory too, but a host path under /tmp is what a program reaching for
// the host would name.)
bool NotFoundOutside(const std::string& text) {
  static const std::regex kPath(R"(No such file or directory: '(/[^']*)')");
  for (std::sregex_iterator it(text.begin(), text.end(), kPath), end; it != end; ++it) {
    const std::string path = (*it)[1];
    if (!absl::StartsWith(path, "/work")) return true;
  }
  return false;
}

// From the error text (the run failed and no signal or event said more).
void FromText(const SandboxLimits& lim, SandboxResult* r) {
  const std::string text = r->stderr_text + "\n" + r->stdout_text;
  auto says = [&](std::initializer_list<const char*> needles) {
    for (const char* n : needles) {
      if (absl::StrContains(text, n)) return true;
    }
    return false;
  };
  const bool ns = (r->layers & kLayerMountNs) != 0;
  if (says({"MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory"}) ||
      r->max_rss_bytes >= lim.memory_bytes * 9 / 10) {
    Stop(r, SandboxLimit::kMemory, ActiveOf(*r, {kLayerCgroup, kLayerRlimits}),
         absl::StrFormat("memory limit of %d MiB reached", lim.memory_bytes >> 20));
  } else if (says({"BlockingIOError", "Resource temporarily unavailable", "fork: retry",
                   "can't start new thread"})) {
    Stop(r, SandboxLimit::kProcesses, kLayerRlimits,
         absl::StrFormat("process limit of %d reached", lim.max_processes));
  } else if (says({"No space left on device", "Disk quota exceeded"})) {
    Stop(r, SandboxLimit::kDisk, kLayerDiskQuota,
         absl::StrFormat("disk quota of %d MiB or %d files reached", lim.max_disk_bytes >> 20,
                         lim.max_files));
  } else if (says({"File too large"})) {
    Stop(r, SandboxLimit::kFileSize, kLayerRlimits,
         absl::StrFormat("file size limit of %d bytes exceeded", lim.max_file_bytes));
  } else if (says({"Network is unreachable"}) ||
             (says({"Connection refused"}) && (r->layers & kLayerNetNs))) {
    Stop(r, SandboxLimit::kNetwork, kLayerNetNs,
         "no network: the namespace has no interface and no abstract sockets but its own");
  } else if (says({"connect"}) && says({"Permission denied"}) && (r->layers & kLayerLandlockNet)) {
    Stop(r, SandboxLimit::kNetwork, kLayerLandlockNet, "TCP connection denied by Landlock");
  } else if (says({"connect"}) && says({"Operation not permitted"}) &&
             (r->layers & kLayerLandlockScope)) {
    Stop(r, SandboxLimit::kNetwork, kLayerLandlockScope,
         "abstract socket outside the sandbox denied by Landlock");
  } else if (says({"ProcessLookupError"})) {
    Stop(r, SandboxLimit::kSignal, kLayerPidNs,
         "signal denied: no process outside its PID namespace is visible");
  } else if (says({"Function not implemented"})) {  // strerror(ENOSYS): the allowlist's answer
    Stop(r, SandboxLimit::kSyscall, kLayerSeccomp,
         "system call denied: it is not on the sandbox's allowlist");
  } else if (says({"Operation not permitted"}) && says({"kill("})) {
    Stop(r, SandboxLimit::kSignal, ActiveOf(*r, {kLayerLandlockScope, kLayerUid}),
         "signal denied: only processes of the sandbox may be signalled");
  } else if (says({"Operation not permitted"})) {
    Stop(r, SandboxLimit::kSyscall, kLayerSeccomp, "system call denied by the sandbox");
  } else if (says({"Read-only file system"})) {
    Stop(r, SandboxLimit::kFilesystem, kLayerMountNs,
         "write denied: only its working directory is writable");
  } else if (ns && says({"os.exec", "subprocess", "os.system", "os.posix_spawn"}) &&
             says({"No such file or directory"})) {
    Stop(r, SandboxLimit::kFilesystem, kLayerMountNs,
         "not visible: the private root has no program to run but the interpreter");
  } else if (says({"os.exec", "subprocess", "os.system", "os.posix_spawn"}) &&
             says({"Permission denied"}) && (r->layers & kLayerLandlockRead)) {
    Stop(r, SandboxLimit::kFilesystem, kLayerLandlockRead,
         "execute denied: only the interpreter may be executed");
  } else if (ns && says({"connect"}) && says({"No such file or directory"})) {
    Stop(r, SandboxLimit::kFilesystem, kLayerMountNs,
         "not visible: the private root has no host sockets");
  } else if (ns && NotFoundOutside(text)) {
    Stop(r, SandboxLimit::kFilesystem, kLayerMountNs,
         "not visible: the private root shows only what the interpreter needs");
  } else if (says({"Permission denied", "PermissionError"})) {
    Stop(r, SandboxLimit::kFilesystem,
         ActiveOf(*r, {kLayerLandlockRead, kLayerLandlockWrite, kLayerUid}),
         "access denied: outside what the sandbox allows");
  }
}

}  // namespace

void AttributeLimit(const SandboxLimits& lim, const RunFacts& facts, SandboxResult* r) {
  if (r->limit != SandboxLimit::kNone) return;  // our own kill already said why
  if (r->term_signal == SIGXCPU ||
      (r->term_signal == SIGKILL && r->cpu_time_s >= std::ceil(lim.cpu_time_s))) {
    Stop(r, SandboxLimit::kCpuTime, kLayerRlimits,
         absl::StrFormat("CPU time limit of %g s exceeded", lim.cpu_time_s));
  } else if (facts.cgroup_oom) {
    Stop(r, SandboxLimit::kMemory, kLayerCgroup,
         absl::StrFormat("memory limit of %d MiB reached", lim.memory_bytes >> 20));
  } else if (r->term_signal == SIGSYS) {
    Stop(r, SandboxLimit::kNetwork, kLayerSeccomp,
         "socket denied: the program has no network and no sockets but socketpairs");
  } else if (r->term_signal == SIGXFSZ) {
    Stop(r, SandboxLimit::kFileSize, kLayerRlimits,
         absl::StrFormat("file size limit of %d bytes exceeded", lim.max_file_bytes));
  } else if (r->exit_code != 0 && facts.cgroup_pids) {
    Stop(r, SandboxLimit::kProcesses, kLayerCgroup,
         absl::StrFormat("process limit of %d reached", lim.max_processes));
  } else if (r->exit_code != 0) {
    FromText(lim, r);
  }
  if (r->limit == SandboxLimit::kNone && r->leftover_processes > 0) {
    Stop(r, SandboxLimit::kLeftover, kLayerPidNs,
         absl::StrFormat("%d processes it left running were killed", r->leftover_processes));
  }
}

}  // namespace dsarl::envs

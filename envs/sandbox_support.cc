// What the sandbox can do on this machine (sandbox.h): the names of limits, layers and levels,
// the probe of each layer, and the process's policy.
#include <sys/prctl.h>
#include <unistd.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "envs/sandbox.h"
#include "envs/sandbox_cgroup.h"
#include "envs/sandbox_internal.h"
#include "envs/sandbox_landlock.h"
#include "envs/sandbox_seccomp.h"

namespace dsarl::envs {
namespace {

constexpr const char* kLayerNames[] = {
    "user_ns", "private_root",   "pid_ns",        "net_ns",         "ipc_uts_ns", "disk_quota",
    "seccomp", "landlock_write", "landlock_read", "landlock_scope", "cgroup",     "rlimits",
    "uid",     "watchdog",       "landlock_net"};

std::mutex& PolicyMutex() {
  static std::mutex mu;
  return mu;
}
SandboxPolicy& Policy() {
  static SandboxPolicy policy;
  return policy;
}

// The layers that do not depend on the policy (probed once).
SandboxSupport ProbeFixed() {
  SandboxSupport s;
  s.layers = kLayerRlimits | kLayerWatchdog;
  s.landlock_abi = ProbeLandlockAbi();
  if (s.landlock_abi >= 1) s.layers |= kLayerLandlockWrite | kLayerLandlockRead;
  if (s.landlock_abi >= 4) s.layers |= kLayerLandlockNet;
  if (s.landlock_abi >= 6) {
    s.layers |= kLayerLandlockScope;
  } else {
    s.missing.push_back(
        s.landlock_abi == 0
            ? "landlock: not offered by this kernel (Linux 5.13+ with landlock in the LSM list)"
            : absl::StrCat("landlock_scope: Landlock ABI ", s.landlock_abi,
                           " has no signal or abstract-socket scoping (ABI 6, Linux 6.12+)"));
  }
  absl::StatusOr<std::vector<sock_filter>> seccomp = SeccompAllowlist();
  if (seccomp.ok() && prctl(PR_GET_SECCOMP) >= 0) {
    s.layers |= kLayerSeccomp;
  } else {
    s.missing.push_back(absl::StrCat(
        "seccomp: ", seccomp.ok() ? "prctl(PR_GET_SECCOMP) failed" : seccomp.status().message()));
  }
  s.switch_uid = geteuid() == 0;
  if (s.switch_uid) s.layers |= kLayerUid;
  if (absl::Status ns = ProbeNamespaces(); ns.ok()) {
    s.layers |= kLayerNamespaces | kLayerDiskQuota;
  } else {
    s.missing.push_back(
        absl::StrCat("namespaces (and the private root, the disk quota): ", ns.message()));
  }
  return s;
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
    case SandboxLimit::kDisk:
      return "disk";
    case SandboxLimit::kNetwork:
      return "network";
    case SandboxLimit::kFilesystem:
      return "filesystem";
    case SandboxLimit::kSyscall:
      return "syscall";
    case SandboxLimit::kSignal:
      return "signal";
    case SandboxLimit::kLeftover:
      return "leftover_processes";
  }
  return "?";
}

const char* SandboxLayerName(uint32_t layer) {
  for (int i = 0; i < 15; ++i) {
    if (layer == (1u << i)) return kLayerNames[i];
  }
  return "none";
}

std::string SandboxLayerNames(uint32_t mask) {
  std::vector<std::string> names;
  for (int i = 0; i < 15; ++i) {
    if (mask & (1u << i)) names.push_back(kLayerNames[i]);
  }
  return names.empty() ? "none" : absl::StrJoin(names, ",");
}

const char* SandboxLevelName(SandboxLevel level) {
  switch (level) {
    case SandboxLevel::kMinimal:
      return "minimal";
    case SandboxLevel::kFiltered:
      return "filtered";
    case SandboxLevel::kIsolated:
      return "isolated";
    case SandboxLevel::kStrict:
      return "strict";
  }
  return "?";
}

absl::StatusOr<SandboxLevel> ParseSandboxLevel(absl::string_view name) {
  for (SandboxLevel l : {SandboxLevel::kMinimal, SandboxLevel::kFiltered, SandboxLevel::kIsolated,
                         SandboxLevel::kStrict}) {
    if (name == SandboxLevelName(l)) return l;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown sandbox level '", name, "' (expected minimal, filtered, isolated or strict)"));
}

SandboxLevel LevelOfLayers(uint32_t layers) {
  const bool writes_contained = (layers & (kLayerLandlockWrite | kLayerMountNs)) != 0;
  if (!(layers & kLayerSeccomp) || !writes_contained) return SandboxLevel::kMinimal;
  if ((layers & kLayerNamespaces) != kLayerNamespaces) return SandboxLevel::kFiltered;
  const uint32_t strict = kLayerLandlockRead | kLayerLandlockScope | kLayerCgroup;
  if ((layers & strict) != strict) return SandboxLevel::kIsolated;
  return SandboxLevel::kStrict;
}

const SandboxSupport& GetSandboxSupport() {
  static const SandboxSupport fixed = ProbeFixed();
  static SandboxSupport* current = nullptr;
  static std::string probed_parent = "\x01";
  std::lock_guard<std::mutex> lock(PolicyMutex());
  if (current == nullptr || probed_parent != Policy().cgroup_parent) {
    auto* s = new SandboxSupport(fixed);  // kept: callers hold references
    probed_parent = Policy().cgroup_parent;
    CgroupParent cg = FindCgroupParent(probed_parent);
    if (!cg.dir.empty()) {
      s->layers |= kLayerCgroup;
      s->cgroup_dir = cg.dir;
    } else {
      s->missing.push_back(absl::StrCat("cgroup: ", cg.why_not, "; rlimits apply instead"));
    }
    current = s;
  }
  return *current;
}

void SetSandboxPolicy(const SandboxPolicy& policy) {
  std::lock_guard<std::mutex> lock(PolicyMutex());
  Policy() = policy;
}

SandboxPolicy GetSandboxPolicy() {
  std::lock_guard<std::mutex> lock(PolicyMutex());
  return Policy();
}

absl::Status CheckSandboxLevel(SandboxLevel level) {
  const SandboxSupport& s = GetSandboxSupport();
  const SandboxLevel have = LevelOfLayers(s.layers);
  if (have >= level) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("sandbox: this machine reaches level '", SandboxLevelName(have),
                   "', below the required '", SandboxLevelName(level),
                   "' (envs.sandbox_min_level); missing: ", absl::StrJoin(s.missing, "; ")));
}

}  // namespace dsarl::envs

// Landlock for the sandbox (sandbox_landlock.h).
#include "envs/sandbox_landlock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "envs/sandbox_syscall.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

namespace dsarl::envs {
namespace {

constexpr uint64_t kExecute = 1ULL << 0, kWriteFile = 1ULL << 1, kReadFile = 1ULL << 2,
                   kReadDir = 1ULL << 3;
// Every ABI 1 right but execute, read file and read dir: removing and making things.
constexpr uint64_t kMakeAndRemove = (1ULL << 4) | (1ULL << 5) | (1ULL << 6) | (1ULL << 7) |
                                    (1ULL << 8) | (1ULL << 9) | (1ULL << 10) | (1ULL << 11) |
                                    (1ULL << 12);
constexpr uint64_t kRefer = 1ULL << 13;     // ABI 2
constexpr uint64_t kTruncate = 1ULL << 14;  // ABI 3
constexpr uint64_t kIoctlDev = 1ULL << 15;  // ABI 5
constexpr uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;
constexpr uint64_t kNetBindTcp = 1ULL << 0, kNetConnectTcp = 1ULL << 1;       // ABI 4
constexpr uint64_t kScopeAbstractUnix = 1ULL << 0, kScopeSignal = 1ULL << 1;  // ABI 6

struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
struct __attribute__((packed)) PathBeneath {
  uint64_t allowed_access;
  int32_t parent_fd;
};

}  // namespace

int ProbeLandlockAbi() {
  const long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, 1 /*VERSION*/);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

LandlockPlan PlanLandlock(int abi, bool read_rules, bool scope, bool net,
                          const std::vector<std::string>& read_only,
                          const std::vector<std::string>& executables, const std::string& work_dir,
                          const std::vector<std::string>& devices,
                          const std::vector<std::string>& read_dirs) {
  LandlockPlan p;
  p.abi = abi;
  if (abi == 0) return p;
  const uint64_t write =
      kWriteFile | kMakeAndRemove | (abi >= 2 ? kRefer : 0) | (abi >= 3 ? kTruncate : 0);
  const uint64_t read = read_rules ? kExecute | kReadFile | kReadDir : 0;
  p.handled_fs = write | read | (read_rules && abi >= 5 ? kIoctlDev : 0);
  if (net && abi >= 4) p.handled_net = kNetBindTcp | kNetConnectTcp;
  if (scope && abi >= 6) p.scoped = kScopeAbstractUnix | kScopeSignal;
  p.rules.push_back({work_dir, p.handled_fs & ~kExecute});
  for (const std::string& d : devices) {
    p.rules.push_back({d, (kReadFile | kWriteFile | (abi >= 3 ? kTruncate : 0)) & p.handled_fs});
  }
  if (read_rules) {
    for (const std::string& r : read_only) p.rules.push_back({r, kReadFile | kReadDir});
    for (const std::string& d : read_dirs) p.rules.push_back({d, kReadDir});
    for (const std::string& e : executables) p.rules.push_back({e, kReadFile | kExecute});
  }
  return p;
}

int ApplyLandlock(const LandlockPlan& plan) {
  if (plan.abi == 0) return 0;
  RulesetAttr attr{plan.handled_fs, plan.handled_net, plan.scoped};
  const size_t size = plan.abi >= 6   ? sizeof(attr)
                      : plan.abi >= 4 ? 2 * sizeof(uint64_t)
                                      : sizeof(uint64_t);
  const int ruleset = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0));
  if (ruleset < 0) return -1;
  for (const LandlockRule& rule : plan.rules) {
    const int fd = static_cast<int>(RawSyscall(
        SYS_openat, AT_FDCWD, reinterpret_cast<long>(rule.path.c_str()), O_PATH | O_CLOEXEC));
    if (fd < 0) continue;  // not in this root (a device the host lacks)
    struct stat st;
    uint64_t access = rule.access;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) access &= kFileRights;
    PathBeneath beneath{access & plan.handled_fs, fd};
    const long r = beneath.allowed_access == 0
                       ? 0
                       : syscall(SYS_landlock_add_rule, ruleset, 1 /*PATH_BENEATH*/, &beneath, 0);
    const int err = errno;
    close(fd);
    if (r < 0) {
      close(ruleset);
      errno = err;
      return -1;
    }
  }
  const long r = syscall(SYS_landlock_restrict_self, ruleset, 0);
  const int err = errno;
  close(ruleset);
  errno = err;
  return r < 0 ? -1 : 0;
}

}  // namespace dsarl::envs

// The sandbox's cgroup v2 layer (sandbox_cgroup.h).
#include "envs/sandbox_cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "envs/sandbox_internal.h"

namespace dsarl::envs {
namespace {

std::string ReadSmall(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

bool HasWord(const std::string& text, absl::string_view word) {
  for (absl::string_view w : absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    if (w == word) return true;
  }
  return false;
}

// The cgroup v2 mount point ("" when none) and this process's cgroup under it.
std::string OwnCgroupDir() {
  std::string mount;
  std::ifstream info("/proc/self/mountinfo");
  for (std::string line; std::getline(info, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::vector<std::string> left = absl::StrSplit(line.substr(0, dash), ' ');
    if (absl::StartsWith(line.substr(dash + 3), "cgroup2 ") && left.size() > 4) {
      mount = left[4];
      break;
    }
  }
  if (mount.empty()) return "";
  std::ifstream self("/proc/self/cgroup");
  for (std::string line; std::getline(self, line);) {
    if (absl::StartsWith(line, "0::")) return mount + (line.size() > 4 ? line.substr(3) : "");
  }
  return "";
}

int64_t ReadKey(const std::string& path, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(ReadSmall(path), '\n')) {
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, " ")) {
      int64_t v = 0;
      if (absl::SimpleAtoi(line, &v)) return v;
    }
  }
  return 0;
}

}  // namespace

CgroupParent FindCgroupParent(const std::string& hint) {
  CgroupParent p;
  const std::string dir = hint.empty() ? OwnCgroupDir() : hint;
  if (dir.empty()) {
    p.why_not = "no cgroup v2 hierarchy is mounted";
    return p;
  }
  const std::string controllers = ReadSmall(dir + "/cgroup.controllers");
  if (!HasWord(controllers, "memory") || !HasWord(controllers, "pids")) {
    p.why_not = absl::StrCat("the cgroup v2 directory ", dir,
                             " lacks the memory and pids controllers (they may be on cgroup v1)");
    return p;
  }
  std::string subtree = ReadSmall(dir + "/cgroup.subtree_control");
  if (!HasWord(subtree, "memory") || !HasWord(subtree, "pids")) {
    if (!WriteControlFile(dir + "/cgroup.subtree_control", "+memory +pids")) {
      p.why_not =
          absl::StrCat("cannot enable memory and pids for children of ", dir, ": ", strerror(errno),
                       errno == EBUSY ? " (it holds processes: set "
                                        "envs.sandbox_cgroup to a delegated cgroup)"
                                      : "");
      return p;
    }
  }
  if (HasWord(controllers, "cpu") && !HasWord(subtree, "cpu")) {
    WriteControlFile(dir + "/cgroup.subtree_control", "+cpu");
  }
  p.cpu = HasWord(ReadSmall(dir + "/cgroup.subtree_control"), "cpu");
  const std::string probe = absl::StrCat(dir, "/dsarl-probe-", getpid());
  if (mkdir(probe.c_str(), 0755) != 0) {
    p.why_not = absl::StrCat("cannot make cgroups under ", dir, ": ", strerror(errno));
    return p;
  }
  rmdir(probe.c_str());
  p.dir = dir;
  return p;
}

absl::StatusOr<std::unique_ptr<RunCgroup>> RunCgroup::Create(const CgroupParent& parent,
                                                             const SandboxLimits& limits) {
  static std::atomic<uint64_t> counter{0};
  const std::string dir = absl::StrCat(parent.dir, "/dsarl-sandbox-", getpid(), "-", counter++);
  if (mkdir(dir.c_str(), 0755) != 0) {
    return absl::InternalError(absl::StrCat("sandbox: mkdir ", dir, ": ", strerror(errno)));
  }
  std::unique_ptr<RunCgroup> cg(new RunCgroup(dir));
  const int64_t cpu_quota =
      std::max<int64_t>(1000, static_cast<int64_t>(std::ceil(limits.cpu_cores * 100000)));
  // cpu.max is there when the parent enabled the cpu controller, memory.swap.max with swap
  // accounting: both are optional.
  struct Setting {
    const char* file;
    std::string value;
    bool optional;
  };
  const Setting settings[] = {
      {"memory.max", std::to_string(limits.memory_bytes), false},
      {"memory.oom.group", "1", false},
      {"pids.max", std::to_string(limits.max_processes + 1), false},
      {"cpu.max", absl::StrCat(cpu_quota, " 100000"), true},
      {"memory.swap.max", "0", true},
  };
  for (const Setting& s : settings) {
    const std::string path = absl::StrCat(dir, "/", s.file);
    if (s.optional && access(path.c_str(), F_OK) != 0) continue;
    if (!WriteControlFile(path, s.value)) {
      return absl::InternalError(absl::StrCat("sandbox: writing ", path, ": ", strerror(errno)));
    }
  }
  return cg;
}

RunCgroup::~RunCgroup() {
  WriteControlFile(dir_ + "/cgroup.kill", "1");
  for (int i = 0; i < 200 && rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

absl::Status RunCgroup::Add(pid_t pid) const {
  if (!WriteControlFile(dir_ + "/cgroup.procs", std::to_string(pid))) {
    return absl::InternalError(
        absl::StrCat("sandbox: writing ", dir_, "/cgroup.procs: ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool RunCgroup::OomKilled() const { return ReadKey(dir_ + "/memory.events", "oom_kill") > 0; }
bool RunCgroup::PidsLimited() const { return ReadKey(dir_ + "/pids.events", "max") > 0; }

int64_t RunCgroup::PeakBytes() const {
  int64_t v = 0;
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadSmall(dir_ + "/memory.peak")), &v) ? v : 0;
}

}  // namespace dsarl::envs

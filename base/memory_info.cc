#include "base/memory_info.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace dsarl {
namespace {

// "MemTotal:  24576000 kB" -> bytes; -1 when the key is absent.
int64_t MeminfoBytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    int64_t kb = -1;
    fields >> kb;
    return kb < 0 ? -1 : kb * 1024;
  }
  return -1;
}

// The first number in `path` ("max" or unreadable: -1).
int64_t FileNumber(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!std::getline(in, text)) return -1;
  int64_t v;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &v) || v <= 0) return -1;
  return v;
}

// The cgroup of this process, v2 ("0::/x") or the v1 memory controller ("N:memory:/x").
int64_t CgroupLimit() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  int64_t best = -1;
  while (std::getline(in, line)) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    int64_t v = -1;
    if (controllers.empty()) {
      v = FileNumber("/sys/fs/cgroup" + path + "/memory.max");
      if (v < 0) v = FileNumber("/sys/fs/cgroup/memory.max");
    } else if (controllers.find("memory") != std::string::npos) {
      v = FileNumber("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes");
      if (v < 0) v = FileNumber("/sys/fs/cgroup/memory/memory.limit_in_bytes");
      if (v >= (int64_t{1} << 62)) v = -1;  // v1 spells "no limit" as a huge number
    }
    if (v > 0 && (best < 0 || v < best)) best = v;
  }
  return best;
}

}  // namespace

MemoryInfo ReadMemoryInfo() {
  MemoryInfo info;
  info.limit_bytes = MeminfoBytes("MemTotal");
  info.limit_source = "physical memory";
  if (info.limit_bytes <= 0) info.limit_bytes = int64_t{1} << 62;
  if (int64_t cg = CgroupLimit(); cg > 0 && cg < info.limit_bytes) {
    info.limit_bytes = cg;
    info.limit_source = "cgroup memory limit";
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      static_cast<int64_t>(rl.rlim_cur) < info.limit_bytes) {
    info.limit_bytes = static_cast<int64_t>(rl.rlim_cur);
    info.limit_source = "RLIMIT_AS (ulimit -v)";
  }
  const int64_t avail = MeminfoBytes("MemAvailable");
  info.available_bytes = avail > 0 && avail < info.limit_bytes ? avail : info.limit_bytes;
  return info;
}

std::string FormatBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f B", bytes) : absl::StrFormat("%.1f %s", bytes, units[u]);
}

}  // namespace dsarl

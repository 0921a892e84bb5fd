// How much memory this process may use: the smallest of physical memory, the cgroup limit (what a
// container or a Slurm allocation grants) and RLIMIT_AS. Jobs check their estimated footprint
// against it before they allocate, so a model that cannot fit is an error, not an abort.
#ifndef DSARL_BASE_MEMORY_INFO_H_
#define DSARL_BASE_MEMORY_INFO_H_

#include <cstdint>
#include <string>

namespace dsarl {

struct MemoryInfo {
  int64_t limit_bytes = 0;      // what the process may use at most
  int64_t available_bytes = 0;  // MemAvailable now (or the limit when unknown)
  std::string limit_source;     // "physical memory", "cgroup memory.max", "RLIMIT_AS"
};

// Reads /proc/meminfo, the cgroup (v2 memory.max, v1 memory.limit_in_bytes) and RLIMIT_AS. Never
// fails: an unreadable source is skipped.
MemoryInfo ReadMemoryInfo();

// "1.5 GiB", "512 MiB", "12 KiB": for messages.
std::string FormatBytes(double bytes);

}  // namespace dsarl

#endif  // DSARL_BASE_MEMORY_INFO_H_

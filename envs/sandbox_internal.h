// Internal to the sandbox: what its parent-side files share.
#ifndef DSARL_ENVS_SANDBOX_INTERNAL_H_
#define DSARL_ENVS_SANDBOX_INTERNAL_H_

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "envs/sandbox.h"

namespace dsarl::envs {

// Writes `text` to `path` in one write (a /proc or cgroup control file); errno is kept on failure.
inline bool WriteControlFile(const std::string& path, absl::string_view text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  close(fd);
  errno = err;
  return ok;
}

// Starts a namespaced child with an empty private root, as a run would, and sees it reach exec
// (of a program that is not there). OK when every namespace step works; otherwise the error
// names the step that failed (sandbox.cc).
absl::Status ProbeNamespaces();

// Facts about how a run ended that the attribution needs beyond the result.
struct RunFacts {
  bool cgroup_oom = false;
  bool cgroup_pids = false;
};

// Names the limit and the layer that stopped the program when our own kill did not already
// (sandbox_attribution.cc).
void AttributeLimit(const SandboxLimits& limits, const RunFacts& facts, SandboxResult* r);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_INTERNAL_H_

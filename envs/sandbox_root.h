// Internal to the sandbox: the private root a namespaced run sees, planned by the parent (every
// path and string computed there) and built by the child, which runs system calls only.
//
// The root is a small tmpfs mounted on the run's host directory (in the child's own mount
// namespace, so the host sees an empty directory), holding read-only binds of only the paths the
// program needs at their host paths (symbolic links on the way recreated), /dev/{null,zero,full,
// random,urandom}, a fresh /proc, and /work: a tmpfs with a size and inode quota, the program's
// working directory (/tmp and /dev/shm point there). Then the root is made read-only and pivoted
// to, and the host's tree is detached.
#ifndef DSARL_ENVS_SANDBOX_ROOT_H_
#define DSARL_ENVS_SANDBOX_ROOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dsarl::envs {

// One step of building the root; `path` is the full host path of the staging tree (the run's
// directory + the path inside the root).
struct RootOp {
  enum Kind { kMkdir, kSymlink, kBindDir, kBindFile } kind;
  std::string path;
  std::string source;  // kSymlink: the link's target; kBind*: the host path
};

// A file the program finds in /work.
struct RootFile {
  std::string path;  // staging path
  const std::string* content;
};

struct RootPlan {
  std::string staging;       // the run's host directory, where the root is built
  std::string root_options;  // tmpfs options of the root
  std::vector<RootOp> ops;
  std::string proc;  // staging + "/proc"
  std::string work;  // staging + "/work"
  std::string work_options;
  std::vector<RootFile> files;
};

// The plan for a root in `staging` showing `read_only` and `executables` (absolute host paths,
// followed through symbolic links), with a /work of `disk_bytes` and `max_files` inodes owned by
// `uid`:`gid` (ids inside the user namespace). InvalidArgument for a relative path or one that
// does not exist.
absl::StatusOr<RootPlan> PlanRoot(const std::string& staging,
                                  const std::vector<std::string>& read_only,
                                  const std::vector<std::string>& executables, int64_t disk_bytes,
                                  int max_files, uint32_t uid, uint32_t gid);

// The real host paths of the executables as the private root shows them (for Landlock's execute
// rules): `path` with every symbolic link resolved. InvalidArgument when it does not exist.
absl::StatusOr<std::string> ResolveHostPath(const std::string& path);

// The ELF interpreter `path` names (PT_INTERP: "/lib64/ld-linux-x86-64.so.2"), "" for a static
// program or a file that is not ELF.
std::string ElfInterpreter(const std::string& path);

// Builds the root of `plan` and pivots into it, leaving the working directory at /work. Only
// system calls; on failure returns the step that failed (a RootStep, errno set), else 0.
int BuildRoot(const RootPlan& plan);

enum RootStep {
  kStepRootOk = 0,
  kStepMakePrivate = 20,
  kStepMountRoot,
  kStepRootMkdir,
  kStepRootSymlink,
  kStepRootBind,
  kStepRootRemount,
  kStepMountProc,
  kStepMountWork,
  kStepWriteFile,
  kStepRootReadOnly,
  kStepPivotRoot,
  kStepDetachOld,
  kStepLast,
};

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SANDBOX_ROOT_H_

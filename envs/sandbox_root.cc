// The sandbox's private root (sandbox_root.h): planned in the parent, built in the child.
#include "envs/sandbox_root.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace dsarl::envs {
namespace {

// A symbolic link met on the way to a path: where it is and what it says.
struct Link {
  std::string path, target;
};

// Resolves `path` component by component as the kernel would, recording every symbolic link met.
absl::StatusOr<std::string> Resolve(const std::string& path, std::vector<Link>* links) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("sandbox: '", path, "' is not absolute"));
  }
  std::deque<std::string> rest;
  for (absl::string_view c : absl::StrSplit(path, '/', absl::SkipEmpty())) rest.emplace_back(c);
  std::string done;
  int hops = 0;
  while (!rest.empty()) {
    const std::string c = rest.front();
    rest.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      done = done.substr(0, done.rfind('/') == std::string::npos ? 0 : done.rfind('/'));
      continue;
    }
    const std::string next = absl::StrCat(done, "/", c);
    struct stat st;
    if (lstat(next.c_str(), &st) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("sandbox: '", path, "': ", next, ": ", strerror(errno)));
    }
    if (!S_ISLNK(st.st_mode)) {
      done = next;
      continue;
    }
    if (++hops > 40) {
      return absl::InvalidArgumentError(absl::StrCat("sandbox: '", path, "': too many links"));
    }
    char buf[4096];
    const ssize_t n = readlink(next.c_str(), buf, sizeof(buf) - 1);
    if (n <= 0) return absl::InvalidArgumentError(absl::StrCat("sandbox: readlink ", next));
    const std::string target(buf, static_cast<size_t>(n));
    links->push_back({next, target});
    std::deque<std::string> more;
    for (absl::string_view t : absl::StrSplit(target, '/', absl::SkipEmpty())) more.emplace_back(t);
    rest.insert(rest.begin(), more.begin(), more.end());
    if (target[0] == '/') done.clear();
  }
  return done.empty() ? std::string("/") : done;
}

bool Under(const std::string& path, const std::string& dir) {
  return dir == "/" || path == dir || absl::StartsWith(path, dir + "/");
}

// Mkdir ops for every directory above `path` not made yet.
void Parents(const std::string& staging, const std::string& path, std::set<std::string>* made,
             std::vector<RootOp>* ops) {
  std::string at;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    absl::StrAppend(&at, "/", parts[i]);
    if (made->insert(at).second) ops->push_back({RootOp::kMkdir, staging + at, ""});
  }
}

}  // namespace

absl::StatusOr<std::string> ResolveHostPath(const std::string& path) {
  std::vector<Link> links;
  return Resolve(path, &links);
}

absl::StatusOr<RootPlan> PlanRoot(const std::string& staging,
                                  const std::vector<std::string>& read_only,
                                  const std::vector<std::string>& executables, int64_t disk_bytes,
                                  int max_files, uint32_t uid, uint32_t gid) {
  std::vector<Link> links;
  std::vector<std::string> binds;
  for (const auto* list : {&read_only, &executables}) {
    for (const std::string& p : *list) {
      absl::StatusOr<std::string> real = Resolve(p, &links);
      if (!real.ok()) return real.status();
      binds.push_back(*real);
    }
  }
  // Keep the outermost of nested binds; a reserved path of the root cannot be bound over.
  std::sort(binds.begin(), binds.end());
  std::vector<std::string> kept;
  for (const std::string& b : binds) {
    for (const char* reserved : {"/proc", "/dev", "/work", "/tmp"}) {
      if (Under(b, reserved) || b == "/") {
        return absl::InvalidArgumentError(
            absl::StrCat("sandbox: '", b, "' cannot be shown in the private root"));
      }
    }
    if (kept.empty() || !Under(b, kept.back())) kept.push_back(b);
  }
  RootPlan plan;
  plan.staging = staging;
  plan.root_options = "size=1m,nr_inodes=4096,mode=0755";
  std::set<std::string> made = {"/proc", "/dev", "/work"};
  plan.ops.push_back({RootOp::kMkdir, staging + "/proc", ""});
  plan.ops.push_back({RootOp::kMkdir, staging + "/dev", ""});
  plan.ops.push_back({RootOp::kMkdir, staging + "/work", ""});
  for (const std::string& b : kept) {
    Parents(staging, b, &made, &plan.ops);
    struct stat st;
    if (stat(b.c_str(), &st) != 0) return absl::InvalidArgumentError(absl::StrCat("sandbox: ", b));
    made.insert(b);
    plan.ops.push_back(
        {S_ISDIR(st.st_mode) ? RootOp::kBindDir : RootOp::kBindFile, staging + b, b});
  }
  std::set<std::string> linked;
  for (const Link& l : links) {
    bool inside = false;
    for (const std::string& b : kept) inside = inside || Under(l.path, b);
    if (inside || !linked.insert(l.path).second) continue;
    Parents(staging, l.path, &made, &plan.ops);
    plan.ops.push_back({RootOp::kSymlink, staging + l.path, l.target});
  }
  for (const char* dev : {"null", "zero", "full", "random", "urandom"}) {
    plan.ops.push_back(
        {RootOp::kBindFile, absl::StrCat(staging, "/dev/", dev), absl::StrCat("/dev/", dev)});
  }
  plan.ops.push_back({RootOp::kSymlink, staging + "/dev/fd", "/proc/self/fd"});
  plan.ops.push_back({RootOp::kSymlink, staging + "/dev/stdin", "/proc/self/fd/0"});
  plan.ops.push_back({RootOp::kSymlink, staging + "/dev/stdout", "/proc/self/fd/1"});
  plan.ops.push_back({RootOp::kSymlink, staging + "/dev/stderr", "/proc/self/fd/2"});
  plan.ops.push_back({RootOp::kSymlink, staging + "/dev/shm", "/work"});
  plan.ops.push_back({RootOp::kSymlink, staging + "/tmp", "work"});
  plan.proc = staging + "/proc";
  plan.work = staging + "/work";
  plan.work_options =
      absl::StrFormat("size=%d,nr_inodes=%d,mode=0700,uid=%u,gid=%u",
                      std::max<int64_t>(disk_bytes, 4096), std::max(max_files, 16), uid, gid);
  return plan;
}

std::string ElfInterpreter(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string interp;
  Elf64_Ehdr eh;
  if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
    for (int i = 0; i < eh.e_phnum && i < 256; ++i) {
      Elf64_Phdr ph;
      if (pread(fd, &ph, sizeof(ph), static_cast<off_t>(eh.e_phoff + i * sizeof(ph))) !=
          sizeof(ph)) {
        break;
      }
      if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz > 4096) continue;
      interp.resize(ph.p_filesz);
      if (pread(fd, interp.data(), ph.p_filesz, static_cast<off_t>(ph.p_offset)) !=
          static_cast<ssize_t>(ph.p_filesz)) {
        interp.clear();
      }
      interp = interp.c_str();  // drop the terminating NUL
      break;
    }
  }
  close(fd);
  return interp;
}

namespace {

// Mount flags a bind must keep when remounted read-only (a user namespace cannot clear the
// flags of the mount it copied).
unsigned long KeptFlags(const char* path) {
  struct statfs s;
  if (syscall(SYS_statfs, path, &s) != 0) return MS_NOSUID | MS_NODEV;
  unsigned long flags = 0;
  if (s.f_flags & ST_NOSUID) flags |= MS_NOSUID;
  if (s.f_flags & ST_NODEV) flags |= MS_NODEV;
  if (s.f_flags & ST_NOEXEC) flags |= MS_NOEXEC;
  if (s.f_flags & ST_NOATIME) flags |= MS_NOATIME;
  if (s.f_flags & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (s.f_flags & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

int Op(const RootOp& op) {
  switch (op.kind) {
    case RootOp::kMkdir:
      if (mkdir(op.path.c_str(), 0755) != 0 && errno != EEXIST) return kStepRootMkdir;
      return 0;
    case RootOp::kSymlink:
      return symlink(op.source.c_str(), op.path.c_str()) != 0 ? kStepRootSymlink : 0;
    case RootOp::kBindDir:
    case RootOp::kBindFile: {
      if (op.kind == RootOp::kBindDir) {
        if (mkdir(op.path.c_str(), 0755) != 0 && errno != EEXIST) return kStepRootMkdir;
      } else {
        const int fd = open(op.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return kStepRootMkdir;
        close(fd);
      }
      if (mount(op.source.c_str(), op.path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        return kStepRootBind;
      }
      // Devices stay writable (/dev/null); everything else is read-only.
      const bool device = absl::StartsWith(op.source, "/dev/");
      const unsigned long flags = MS_BIND | MS_REMOUNT | KeptFlags(op.path.c_str()) |
                                  (device ? 0 : MS_RDONLY | MS_NOSUID | MS_NODEV);
      if (mount(nullptr, op.path.c_str(), nullptr, flags, nullptr) != 0) return kStepRootRemount;
      return 0;
    }
  }
  return 0;
}

int WriteFile(const RootFile& f) {
  const int fd = open(f.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return kStepWriteFile;
  const char* p = f.content->data();
  size_t left = f.content->size();
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      close(fd);
      errno = n == 0 ? ENOSPC : e;
      return kStepWriteFile;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  close(fd);
  return 0;
}

}  // namespace

int BuildRoot(const RootPlan& plan) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return kStepMakePrivate;
  if (mount("tmpfs", plan.staging.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
            plan.root_options.c_str()) != 0) {
    return kStepMountRoot;
  }
  for (const RootOp& op : plan.ops) {
    if (const int step = Op(op); step != 0) return step;
  }
  // A /proc of the PID namespace; where the kernel refuses (a container that masks parts of its
  // own /proc), the program runs without one rather than with the host's.
  mount("proc", plan.proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  if (mount("tmpfs", plan.work.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            plan.work_options.c_str()) != 0) {
    return kStepMountWork;
  }
  for (const RootFile& f : plan.files) {
    if (const int step = WriteFile(f); step != 0) return step;
  }
  if (mount(nullptr, plan.staging.c_str(), nullptr,
            MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
    return kStepRootReadOnly;
  }
  if (chdir(plan.staging.c_str()) != 0) return kStepPivotRoot;
  if (syscall(SYS_pivot_root, ".", ".") != 0) return kStepPivotRoot;
  if (umount2(".", MNT_DETACH) != 0) return kStepDetachOld;
  if (chdir("/work") != 0) return kStepDetachOld;
  return 0;
}

}  // namespace dsarl::envs

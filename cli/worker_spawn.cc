// posix_spawn with its file actions and signal attributes, the lifeline pipe, and the worker's
// watch on it; the design is in the header.
#include "cli/worker_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dsarl::cli {
namespace {

// Descriptors handed to a child are first moved to this number or above, so that none equals a
// dup2 target (0..3): dup2 onto itself would keep the close-on-exec flag.
constexpr int kFirstHighFd = 10;

absl::Status Errno(const std::string& what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

// `fd` moved to kFirstHighFd or above, close-on-exec; the original is closed either way.
absl::StatusOr<int> MoveHigh(int fd, const std::string& what) {
  const int high = fcntl(fd, F_DUPFD_CLOEXEC, kFirstHighFd);
  const int err = errno;
  close(fd);
  if (high < 0) return Errno(what, err);
  return high;
}

// Owns a posix_spawn_file_actions_t and a posix_spawnattr_t for one spawn.
class SpawnPlan {
 public:
  SpawnPlan() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnPlan() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnPlan(const SpawnPlan&) = delete;
  SpawnPlan& operator=(const SpawnPlan&) = delete;

  // stdin from /dev/null, stdout and stderr to `log_fd`, `lifeline_fd` (if >= 0) as fd 3, and
  // every other descriptor closed. Returns the first errno, 0 when all were recorded.
  int Files(int log_fd, int lifeline_fd) {
    int rc = posix_spawn_file_actions_addopen(&actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions_, log_fd, STDOUT_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions_, log_fd, STDERR_FILENO);
    int first_closed = STDERR_FILENO + 1;
    if (rc == 0 && lifeline_fd >= 0) {
      rc = posix_spawn_file_actions_adddup2(&actions_, lifeline_fd, kLifelineChildFd);
      first_closed = kLifelineChildFd + 1;
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Descriptors some library opened without O_CLOEXEC stay in the parent.
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions_, first_closed);
#else
    (void)first_closed;  // older glibc: close-on-exec alone keeps the parent's descriptors
#endif
    return rc;
  }

  // The child starts with no signal blocked (the spawning thread's mask is inherited otherwise)
  // and the default action for the signals a parent library may have set to be ignored.
  int Signals() {
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGCHLD, SIGINT, SIGTERM}) sigaddset(&defaults, sig);
    int rc = posix_spawnattr_setsigmask(&attr_, &none);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr_, &defaults);
    constexpr short kFlags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (rc == 0) rc = posix_spawnattr_setflags(&attr_, kFlags);
    return rc;
  }

  const posix_spawn_file_actions_t* actions() const { return &actions_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

std::vector<char*> CStrings(std::vector<std::string>* strings) {
  std::vector<char*> out;
  for (std::string& s : *strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The worker's watch: blocks on the lifeline until EOF (or an error), then exits the process.
// Nothing is ever written to it; data, should any come, is ignored.
[[noreturn]] void WatchLifeline(int fd) {
  char buf[64];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
  static constexpr char kMessage[] =
      "dsarl rollout: the dsarl run that started this worker is gone (its lifeline closed); "
      "exiting\n";
  (void)!write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
  _exit(1);
}

}  // namespace

absl::StatusOr<pid_t> SpawnProcess(const SpawnSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("spawn: empty argv");
  std::vector<std::string> argv = spec.argv, env = spec.env;
  const std::vector<char*> cargv = CStrings(&argv), cenv = CStrings(&env);
  const int opened = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (opened < 0) return Errno(absl::StrCat("spawn: opening ", spec.log_path), errno);
  absl::StatusOr<int> log_fd = MoveHigh(opened, "spawn: log descriptor");
  if (!log_fd.ok()) return log_fd.status();
  SpawnPlan plan;
  int rc = plan.Files(*log_fd, spec.lifeline_fd);
  if (rc == 0) rc = plan.Signals();
  pid_t pid = -1;
  if (rc == 0)
    rc = posix_spawn(&pid, cargv[0], plan.actions(), plan.attr(), cargv.data(), cenv.data());
  close(*log_fd);
  if (rc != 0) return Errno(absl::StrCat("spawn: ", spec.argv[0]), rc);
  return pid;
}

absl::StatusOr<ParentLifeline> ParentLifeline::Create() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Errno("lifeline pipe", errno);
  absl::StatusOr<int> read_fd = MoveHigh(fds[0], "lifeline pipe");
  if (!read_fd.ok()) {
    close(fds[1]);
    return read_fd.status();
  }
  return ParentLifeline(*read_fd, fds[1]);
}

ParentLifeline::ParentLifeline(ParentLifeline&& other) noexcept
    : read_fd_(std::exchange(other.read_fd_, -1)), write_fd_(std::exchange(other.write_fd_, -1)) {}

ParentLifeline& ParentLifeline::operator=(ParentLifeline&& other) noexcept {
  if (this != &other) {
    Close();
    read_fd_ = std::exchange(other.read_fd_, -1);
    write_fd_ = std::exchange(other.write_fd_, -1);
  }
  return *this;
}

ParentLifeline::~ParentLifeline() { Close(); }

void ParentLifeline::Close() {
  if (read_fd_ >= 0) close(read_fd_);
  if (write_fd_ >= 0) close(write_fd_);
  read_fd_ = write_fd_ = -1;
}

std::vector<std::string> ParentLifeline::ChildEnvironment() const {
  return {absl::StrCat(kParentPidEnv, "=", getpid()),
          absl::StrCat(kParentFdEnv, "=", kLifelineChildFd)};
}

absl::Status ExitWithParent() {
  const char* pid_text = std::getenv(kParentPidEnv);
  if (pid_text == nullptr) return absl::OkStatus();
  int parent = 0;
  if (!absl::SimpleAtoi(pid_text, &parent) || parent <= 1) {
    return absl::InvalidArgumentError(absl::StrCat(kParentPidEnv, "=", pid_text, ": not a pid"));
  }
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Errno("prctl(PR_SET_PDEATHSIG)", errno);
  // A parent that died before the prctl sent nothing, and this process now has another parent.
  if (getppid() != parent) {
    return absl::FailedPreconditionError(
        absl::StrCat("the process that started this worker (pid ", parent, ") is gone"));
  }
  const char* fd_text = std::getenv(kParentFdEnv);
  if (fd_text == nullptr) return absl::OkStatus();
  int fd = -1;
  struct stat st {};
  if (!absl::SimpleAtoi(fd_text, &fd) || fd < 0 || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(kParentFdEnv, "=", fd_text, ": not a pipe"));
  }
  // This process's own children (sandboxes) do not need it.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::thread([fd] { WatchLifeline(fd); }).detach();
  return absl::OkStatus();
}

}  // namespace dsarl::cli

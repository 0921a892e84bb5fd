// RunInChildProcess (child_process.h): one line per message on the pipe, "step WHAT" or "exit
// CODE".
#include "cli/child_process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dsarl::cli {
namespace {

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return absl::StrCat("signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)), ")");
  }
  return absl::StrCat("wait status ", status);
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

void ChildProgress::Step(absl::string_view what) const { Write(absl::StrCat("step ", what, "\n")); }

void ChildProgress::Finish(int code) const { Write(absl::StrCat("exit ", code, "\n")); }

void ChildProgress::Write(const std::string& line) const {
  for (size_t done = 0; done < line.size();) {
    const ssize_t n = write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone: nobody to tell
    done += static_cast<size_t>(n);
  }
}

absl::StatusOr<ChildOutcome> RunInChildProcess(
    const std::function<int(const ChildProgress&)>& body) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);  // nothing buffered before the fork is written twice
  int fds[2];
  // Close-on-exec: a program the child runs (the sandbox's) must not hold the pipe open.
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    close(fds[0]);
    const ChildProgress progress(fds[1]);
    const int code = body(progress);
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    progress.Finish(code);
    _exit(code);
  }
  close(fds[1]);
  const std::string lines = ReadAll(fds[0]);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ChildOutcome out;
  out.ended = DescribeWaitStatus(status);
  for (absl::string_view line : absl::StrSplit(lines, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "exit ") && absl::SimpleAtoi(line, &out.code)) {
      out.finished = true;
    } else if (absl::ConsumePrefix(&line, "step ")) {
      out.last_step = std::string(line);
    }
  }
  return out;
}

}  // namespace dsarl::cli

// Runs part of a command in a child process, so that what code loaded into that process does to
// it (a plugin that calls exit(0) inside a call, or crashes) is seen by the parent as a failure
// instead of being read off the exit status as a success.
//
// The child names, through a pipe, each step it takes into code it does not trust ("step of
// category faulty") and finally its exit code; a child that ends without reporting a code failed
// in the last step it named.
#ifndef DSARL_CLI_CHILD_PROCESS_H_
#define DSARL_CLI_CHILD_PROCESS_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dsarl::cli {

// The child's side of the pipe.
class ChildProgress {
 public:
  explicit ChildProgress(int fd) : fd_(fd) {}
  // Names what the child does next, for the parent's message should the child end in it.
  void Step(absl::string_view what) const;
  // Reports the child's exit code (RunInChildProcess does this with what `body` returns).
  void Finish(int code) const;

 private:
  void Write(const std::string& line) const;
  int fd_;
};

struct ChildOutcome {
  bool finished = false;               // the child reported its exit code
  int code = 0;                        // that code, when finished
  std::string last_step = "start-up";  // what the child named last
  std::string ended;                   // how it ended: "exit status 0", "signal 11 (Segmentation
                                       // fault)"
};

// Flushes stdout and stderr, forks, runs `body` in the child and waits for the child. The child
// shares the parent's standard streams; after `body` returns it flushes them, reports the code
// and leaves with _exit (no exit-time code of a plugin runs after the report). Errors: Internal
// when the pipe or the fork fails.
absl::StatusOr<ChildOutcome> RunInChildProcess(
    const std::function<int(const ChildProgress&)>& body);

}  // namespace dsarl::cli

#endif  // DSARL_CLI_CHILD_PROCESS_H_

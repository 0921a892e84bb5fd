// Running a shell command from a C++ test and keeping what it printed: the tests that drive the
// `dsarl` binary (store tools, rewards CLI) share it.
#ifndef DSARL_TESTS_RUN_SHELL_H_
#define DSARL_TESTS_RUN_SHELL_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace dsarl::testing {

// Runs `command` with sh; returns its exit status (-1 when it did not exit) and fills `out` with
// its stdout and stderr.
inline int Shell(const std::string& command, std::string* out) {
  out->clear();
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace dsarl::testing

#endif  // DSARL_TESTS_RUN_SHELL_H_

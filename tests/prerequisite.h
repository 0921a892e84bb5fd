// What a test does when something it needs (a Python package, a kernel feature, a tool) is missing:
// outside CI it skips, saying what is missing; in CI (CI=true or CI=1, which .ci/run sets) it
// fails, so a machine that silently lacks a prerequisite cannot turn a suite green.
#ifndef DSARL_TESTS_PREREQUISITE_H_
#define DSARL_TESTS_PREREQUISITE_H_

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

namespace dsarl::testing {

// True when the environment says this is a CI run.
inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::strcmp(ci, "true") == 0 || std::strcmp(ci, "1") == 0);
}

}  // namespace dsarl::testing

// Skips (outside CI) or fails (in CI) the current test when `cond` is false; `what` (anything that
// streams) says what is missing and how to get it. A statement, for a test body or SetUp():
//   DSARL_REQUIRE(HaveTorch(), "PyTorch for /usr/bin/python3 (apt-get install python3-torch)");
#define DSARL_REQUIRE(cond, what)                                                        \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      if (::dsarl::testing::InCi()) {                                                    \
        GTEST_FAIL() << "missing prerequisite (CI=true makes this a failure): " << what; \
      } else {                                                                           \
        GTEST_SKIP() << "skipped, missing prerequisite: " << what;                       \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#endif  // DSARL_TESTS_PREREQUISITE_H_

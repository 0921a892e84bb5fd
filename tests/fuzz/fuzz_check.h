// The one assertion of the fuzz harnesses. A broken property must stop the run the way a sanitizer
// report does (abort), so libFuzzer saves the input and the replay test fails; a gtest EXPECT
// would only print.
#ifndef DSARL_TESTS_FUZZ_FUZZ_CHECK_H_
#define DSARL_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

namespace dsarl::fuzz {

// Aborts with `what` (and `detail`, when given) on stderr unless `ok`.
inline void Require(bool ok, const char* what, const std::string& detail = "") {
  if (ok) return;
  std::fprintf(stderr, "fuzz property broken: %s%s%s\n", what, detail.empty() ? "" : ": ",
               detail.c_str());
  std::abort();
}

}  // namespace dsarl::fuzz

#endif  // DSARL_TESTS_FUZZ_FUZZ_CHECK_H_

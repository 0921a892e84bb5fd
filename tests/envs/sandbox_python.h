// The Python the sandbox tests run, and the paths it reads (envs/sandbox.h: PythonReadPaths).
#ifndef DSARL_TESTS_ENVS_SANDBOX_PYTHON_H_
#define DSARL_TESTS_ENVS_SANDBOX_PYTHON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envs/sandbox.h"

namespace dsarl::envs {

struct TestPython {
  std::string path;
  std::vector<std::string> read_paths;
};

// NotFound without a python3; the probe's error when it cannot be run.
inline absl::StatusOr<TestPython> FindTestPython() {
  absl::StatusOr<std::string> python = FindPython();
  if (!python.ok()) return python.status();
  absl::StatusOr<std::vector<std::string>> paths = PythonReadPaths(*python);
  if (!paths.ok()) return paths.status();
  return TestPython{*python, *paths};
}

}  // namespace dsarl::envs

#endif  // DSARL_TESTS_ENVS_SANDBOX_PYTHON_H_

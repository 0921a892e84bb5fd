// A fresh directory for one test, removed with its contents when the object goes. Fixed names under
// /tmp collide when two test runs share the machine (two build trees, or ctest -j on repeat); a
// mkdtemp name cannot.
#ifndef DSARL_TESTS_BASE_TEMP_DIR_H_
#define DSARL_TESTS_BASE_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace dsarl::testing {

class ScratchDir {
 public:
  // `name` goes into the directory's name, to tell leftovers apart.
  explicit ScratchDir(const std::string& name) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/dsarl-" +
                       name + "-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // The directory; empty if it could not be made.
  const std::string& path() const { return path_; }
  // A path inside it (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace dsarl::testing

#endif  // DSARL_TESTS_BASE_TEMP_DIR_H_

// The Python interpreter the code environments run, and what it needs to read (sandbox.h).
#include <unistd.h>

#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "envs/sandbox.h"
#include "envs/sandbox_root.h"

namespace dsarl::envs {
namespace {

// Imports what programs commonly use (so the shared libraries their extension modules load are
// mapped), then prints the real directories of sys.path and of every mapped file, except the
// interpreter's own directory (bin/ holds shells), one per line.
constexpr char kProbe[] = R"(import os, sys
for m in ('math json re collections itertools functools random decimal fractions string '
          'datetime heapq bisect statistics hashlib struct array ctypes zlib bz2 lzma csv io '
          'time typing dataclasses enum copy operator textwrap unicodedata sqlite3 fnmatch glob '
          'pathlib tempfile shutil threading queue base64 binascii pickle pprint traceback '
          'select uuid locale calendar cmath numbers contextlib ast difflib html zipfile '
          'tarfile gzip secrets hmac xml.etree.ElementTree urllib.parse').split():
    try:
        __import__(m)
    except Exception:
        pass
exe_dir = os.path.dirname(os.path.realpath(sys.executable))
paths = {os.path.realpath(p) for p in sys.path if os.path.exists(p)}
for line in open('/proc/self/maps'):
    f = line.split()
    if len(f) >= 6 and f[5].startswith('/'):
        paths.add(os.path.dirname(os.path.realpath(f[5])))
paths.discard(exe_dir)
print('\n'.join(sorted(paths)))
)";

absl::StatusOr<std::vector<std::string>> Probe(const std::string& python) {
  SandboxOptions o;
  o.disabled_layers = kLayerNamespaces | kLayerDiskQuota | kLayerLandlockRead |
                      kLayerLandlockWrite | kLayerLandlockScope | kLayerCgroup;
  o.min_level = static_cast<int>(SandboxLevel::kMinimal);
  o.limits.wall_time_s = 60;
  o.limits.cpu_time_s = 30;
  absl::StatusOr<SandboxResult> r = RunSandboxed({python, "-I", "-S", "-c", kProbe}, o);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return absl::InternalError(absl::StrCat("sandbox: probing what ", python,
                                            " reads: ", r->Summary(), ": ", r->stderr_text));
  }
  std::vector<std::string> paths;
  for (absl::string_view line : absl::StrSplit(r->stdout_text, '\n', absl::SkipEmpty())) {
    paths.emplace_back(line);
  }
  return paths;
}

}  // namespace

absl::StatusOr<std::string> FindPython() {
  if (access("/usr/bin/python3", X_OK) == 0) return std::string("/usr/bin/python3");
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/python3");
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError("no python3 found (looked for /usr/bin/python3 and on PATH)");
}

absl::StatusOr<std::vector<std::string>> PythonReadPaths(const std::string& python) {
  static std::mutex mu;
  static auto* cache = new std::map<std::string, absl::StatusOr<std::vector<std::string>>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(python);
  if (it == cache->end()) it = cache->emplace(python, Probe(python)).first;
  return it->second;
}

}  // namespace dsarl::envs

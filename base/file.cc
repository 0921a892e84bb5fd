#include "base/file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace dsarl {
namespace {

std::string Mib(int64_t bytes) { return absl::StrCat(bytes / (1 << 20), " MiB"); }

}  // namespace

absl::StatusOr<std::string> ReadFileBounded(const std::string& path, int64_t max_bytes,
                                            const char* what) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such ", what));
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read ", what, ": ", std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not a ", what));
  }
  if (S_ISREG(st.st_mode) && st.st_size > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what, " of ", st.st_size,
                                                   " bytes is larger than the limit of ",
                                                   Mib(max_bytes)));
  }
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot open ", what, ": ", std::strerror(errno)));
  }
  // Devices and pipes report no size: read in chunks and stop one byte past the limit.
  std::string out;
  char buf[1 << 16];
  while (true) {
    const size_t n = std::fread(buf, 1, sizeof(buf), f.get());
    if (n > 0) {
      if (static_cast<int64_t>(out.size() + n) > max_bytes) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": ", what, " is larger than the limit of ", Mib(max_bytes)));
      }
      out.append(buf, n);
    }
    if (n < sizeof(buf)) break;
  }
  if (std::ferror(f.get())) {
    return absl::InternalError(absl::StrCat(path, ": read error in ", what));
  }
  return out;
}

absl::Status ForEachLine(const std::string& path, int64_t max_line_bytes, const char* what,
                         const std::function<absl::Status(absl::string_view, int64_t)>& line_fn) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not a ", what));
  }
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (f == nullptr) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such ", what));
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot open ", what, ": ", std::strerror(errno)));
  }
  std::string line;
  int64_t number = 1;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) {
    size_t begin = 0;
    for (size_t i = 0; i < n; ++i) {
      if (buf[i] != '\n') continue;
      line.append(buf + begin, i - begin);
      if (static_cast<int64_t>(line.size()) > max_line_bytes) break;
      if (absl::Status s = line_fn(line, number++); !s.ok()) return s;
      line.clear();
      begin = i + 1;
    }
    if (begin < n) line.append(buf + begin, n - begin);
    if (static_cast<int64_t>(line.size()) > max_line_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": a line of this ", what,
                                                     " is longer than the limit of ",
                                                     Mib(max_line_bytes)));
    }
  }
  if (std::ferror(f.get()))
    return absl::InternalError(absl::StrCat(path, ": read error in ", what));
  if (!line.empty()) return line_fn(line, number);
  return absl::OkStatus();
}

}  // namespace dsarl

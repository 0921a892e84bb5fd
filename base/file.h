// Reading whole files whose size a user controls (configs, token files, config.json): with a size
// limit checked before the bytes are kept, so a wrong path (/dev/zero, a multi-GB log) is a clear
// error instead of an allocation that aborts the process.
#ifndef DSARL_BASE_FILE_H_
#define DSARL_BASE_FILE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dsarl {

// Limit for small text inputs: job configs, config.json, tokens, certificates. [bytes]
inline constexpr int64_t kMaxTextFileBytes = 16 << 20;

// The contents of `path`. NotFound when it does not exist; InvalidArgument naming `what` and the
// path for a directory or a file (or device, or pipe) longer than `max_bytes`; Internal for a read
// error.
absl::StatusOr<std::string> ReadFileBounded(const std::string& path, int64_t max_bytes,
                                            const char* what);

// Limit for one line of a line-oriented input (JSONL conversations, text corpora). [bytes]
inline constexpr int64_t kMaxLineBytes = 64 << 20;

// Calls `line_fn(line, number)` (1-based) for each line of `path`, without its '\n', reading in
// chunks: a line longer than `max_line_bytes` is InvalidArgument naming "path:line" instead of an
// allocation without end (a file with no newline, /dev/zero). NotFound for a missing file; the
// first error of `line_fn` ends the reading and is returned.
absl::Status ForEachLine(const std::string& path, int64_t max_line_bytes, const char* what,
                         const std::function<absl::Status(absl::string_view, int64_t)>& line_fn);

}  // namespace dsarl

#endif  // DSARL_BASE_FILE_H_

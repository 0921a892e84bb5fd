// Reading whole files whose size a user controls (configs, token files, config.json): with a size
// limit checked before the bytes are kept, so a wrong path (/dev/zero, a multi-GB log) is a clear
// error instead of an allocation that aborts the process.
#ifndef DSARL_BASE_FILE_H_
#define DSARL_BASE_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace dsarl {

// Limit for small text inputs: job configs, config.json, tokens, certificates. [bytes]
inline constexpr int64_t kMaxTextFileBytes = 16 << 20;

// The contents of `path`. NotFound when it does not exist; InvalidArgument naming `what` and the
// path for a directory or a file (or device, or pipe) longer than `max_bytes`; Internal for a read
// error.
absl::StatusOr<std::string> ReadFileBounded(const std::string& path, int64_t max_bytes,
                                            const char* what);

}  // namespace dsarl

#endif  // DSARL_BASE_FILE_H_

// Logging for operators: one line per event, through spdlog (Debian's libspdlog-dev).
// Our Abseil predates absl/log, and glog installs process-wide signal handlers we do not want in a
// library; spdlog is thread-safe, fast, and formats with fmt. Use the DSARL_LOG_* macros so the
// call site's file:line is kept.
#ifndef DSARL_BASE_LOG_H_
#define DSARL_BASE_LOG_H_

#include <string_view>

#include "spdlog/spdlog.h"

namespace dsarl {

// Sets the global log level from a name: trace, debug, info, warn, error, off.
// Returns false (and leaves the level unchanged) for an unknown name.
bool SetLogLevel(std::string_view level);

// Configures the default logger to write "[time] [level] message" to stderr. Called once by the
// binary and by tests; calling it again is harmless.
void InitLogging();

}  // namespace dsarl

#define DSARL_LOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define DSARL_LOG_INFO(...) SPDLOG_INFO(__VA_ARGS__)
#define DSARL_LOG_WARN(...) SPDLOG_WARN(__VA_ARGS__)
#define DSARL_LOG_ERROR(...) SPDLOG_ERROR(__VA_ARGS__)

#endif  // DSARL_BASE_LOG_H_

// SIGINT/SIGTERM turn into a stop flag that long-running commands poll, so they can checkpoint,
// return leases and exit cleanly. A second signal exits at once.
#ifndef DSARL_CLI_SIGNALS_H_
#define DSARL_CLI_SIGNALS_H_

#include <atomic>

namespace dsarl::cli {

// Installs the handlers (idempotent) and returns the flag they set.
std::atomic<bool>& StopFlagOnSignals();

}  // namespace dsarl::cli

#endif  // DSARL_CLI_SIGNALS_H_

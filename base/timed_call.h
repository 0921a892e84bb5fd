// Runs a call that may hang or throw (an environment or reward plugin's code) with a deadline.
//
// Why a thread per call: a hung call cannot be interrupted in-process, only abandoned. The call
// runs on its own thread; the caller waits up to the deadline. If the call is late, the thread is
// detached and keeps running; `on_late_return` runs on it when (if) the call returns, to clean up.
// Everything the call touches must therefore be owned by the call (captured shared_ptrs), never
// by the caller's stack.
#ifndef DSARL_BASE_TIMED_CALL_H_
#define DSARL_BASE_TIMED_CALL_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dsarl {

// Returns `call`'s status when it returns within `timeout`; Internal naming `what` when it throws
// (the exception's message included); DeadlineExceeded naming `what` and the timeout when it is
// late.
absl::Status TimedCall(absl::string_view what, absl::Duration timeout,
                       std::function<absl::Status()> call,
                       std::function<void()> on_late_return = nullptr);

}  // namespace dsarl

#endif  // DSARL_BASE_TIMED_CALL_H_

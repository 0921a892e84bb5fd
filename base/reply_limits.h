// How much one reply from an environment or a reward may carry: the same bound for a plugin call
// (what the plugin reports through its callbacks) and for a remote server's RPC (the channel's
// largest message), so moving an environment or a reward between the two never changes what is
// accepted. A reply over the bound is an infrastructure error, never truncated and never kept.
#ifndef DSARL_BASE_REPLY_LIMITS_H_
#define DSARL_BASE_REPLY_LIMITS_H_

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dsarl {

// 4 MiB: gRPC's default for a received message, which remote servers have always been held to.
inline constexpr size_t kMaxReplyBytes = size_t{4} << 20;

// "<what>: its output of N bytes is over the 4 MiB bound on one reply", for error messages.
inline std::string ReplyTooLargeMessage(absl::string_view what, size_t bytes) {
  return absl::StrCat(what, ": its output of ", bytes, " bytes is over the ", kMaxReplyBytes >> 20,
                      " MiB bound on one reply");
}

}  // namespace dsarl

#endif  // DSARL_BASE_REPLY_LIMITS_H_

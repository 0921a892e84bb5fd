// Writing a synthesized set of environments and their prompts into a store. It lives in store/ so
// that envs/ (which makes the set) never depends on the store: callers hand over protos only.
#ifndef DSARL_STORE_ENV_WRITER_H_
#define DSARL_STORE_ENV_WRITER_H_

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "proto/data.pb.h"
#include "store/store.h"

namespace dsarl::store {

// Writes `envs` and then `prompts` (in batches of 4096) to `store`, ids as given. Returns OK when
// all are written; FailedPrecondition naming the store's directory when it already holds
// environments (a set belongs in a fresh store: ids would collide); the store's write errors
// otherwise (what was written before the error stays).
absl::Status WriteEnvironments(absl::Span<const proto::EnvSpec> envs,
                               absl::Span<const proto::Prompt> prompts, Store* store);

}  // namespace dsarl::store

#endif  // DSARL_STORE_ENV_WRITER_H_

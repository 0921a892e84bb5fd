// WriteEnvironments (env_writer.h): refuse a store that has environments, then put them and their
// prompts in batches.
#include "store/env_writer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace dsarl::store {

absl::Status WriteEnvironments(absl::Span<const proto::EnvSpec> envs,
                               absl::Span<const proto::Prompt> prompts, Store* store) {
  const proto::StoreCounts counts = store->Counts();
  if (counts.envs() > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store ", store->dir(), " already holds ", counts.envs(),
                     " environments; synthesize into a new directory (ids would collide)"));
  }
  for (const proto::EnvSpec& env : envs) RETURN_IF_ERROR(store->PutEnv(env));
  constexpr size_t kBatch = 4096;
  for (size_t i = 0; i < prompts.size(); i += kBatch) {
    RETURN_IF_ERROR(store->PutPrompts(prompts.subspan(i, std::min(kBatch, prompts.size() - i))));
  }
  return absl::OkStatus();
}

}  // namespace dsarl::store

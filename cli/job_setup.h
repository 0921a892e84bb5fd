// What several job commands share: the store of a job, its training and held-out tasks, the
// environment factory and the reward composer built from the config, and synthesizing the
// environments when the store has none.
#ifndef DSARL_CLI_JOB_SETUP_H_
#define DSARL_CLI_JOB_SETUP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envs/factory.h"
#include "envs/synthesis.h"
#include "proto/config.pb.h"
#include "rewards/composer.h"
#include "rollout/eval.h"
#include "store/store.h"

namespace dsarl::cli {

absl::StatusOr<std::unique_ptr<store::Store>> OpenJobStore(const proto::JobConfig& config,
                                                           bool read_only = false);

// What synthesis makes for the config: its categories, counts, difficulties, seed, held-out share.
envs::SynthesisOptions SynthesisOptionsOf(const proto::JobConfig& config);

// Synthesizes the config's categories into the store when it holds no environments; prints what
// it made. OK and nothing printed when the store already has environments.
absl::Status EnsureEnvironments(const proto::JobConfig& config, store::Store* store);

// Tasks of the configured categories and difficulties: training ones (heldout false) or held-out
// ones, with their environment specs; at most `limit` (0 = all), spread over categories.
absl::StatusOr<std::vector<rollout::EvalTask>> SelectTasks(const proto::JobConfig& config,
                                                           const store::Store& store, bool heldout,
                                                           int limit);

// The reward composer of the config; the environment verifier alone when none is configured.
absl::StatusOr<std::unique_ptr<rewards::Composer>> MakeComposer(const proto::JobConfig& config);

}  // namespace dsarl::cli

#endif  // DSARL_CLI_JOB_SETUP_H_

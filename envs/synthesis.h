// Synthesis: expands categories into environments and verified tasks (SPEC §5), deterministically
// from one seed (store/env_writer.h writes them to a store).
//
// For each category (in registry order) and index i, environment i is (category, parameters
// sampled from its seed, seed = DeriveSeed(seed, category, i)), with a difficulty ladder
// 0..top_level. Its tasks are spread over the ladder's levels (a level that runs out of distinct
// tasks passes its share up to the next). Every task's reference solution is played through the
// environment's tools and must pass its verifier and the task's own checks (episode.h CheckTask);
// failures are reported and left out. Tasks are distinct across the whole set (same system text,
// user message and tool names = same task): an environment makes a third more tasks than its
// quota, and its spares replace tasks an earlier environment already has (counted as duplicates).
//
// Same options (seed included) = byte-identical environments and tasks, whatever the thread count:
// environments are made in parallel but merged in order, and every choice comes from a seeded Rng.
#ifndef DSARL_ENVS_SYNTHESIS_H_
#define DSARL_ENVS_SYNTHESIS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envs/episode.h"
#include "envs/registry.h"
#include "proto/data.pb.h"

namespace dsarl::envs {

struct SynthesisOptions {
  std::vector<std::string> categories;  // empty: every category of the registry
  int envs_per_category = 96;
  int tasks_per_env = 50;  // before a category's max_tasks_per_env cap
  int min_level = 0;       // levels made, clipped to each ladder
  int max_level = 4;
  uint64_t seed = 1;
  int threads = 0;              // 0: one per hardware thread
  double heldout_fraction = 0;  // share of tasks marked Prompt.heldout (by a seeded hash)
  uint64_t first_env_id = 1;    // ids are consecutive from these
  uint64_t first_prompt_id = 1;
};

struct CategoryReport {
  std::string name;
  CategoryKind kind = CategoryKind::kReasoning;
  int envs = 0;
  int64_t tasks = 0;
  int64_t failed = 0;      // candidate tasks whose solution did not verify (left out)
  int64_t duplicates = 0;  // candidate tasks equal to an earlier one (left out)
  std::map<int, int64_t> tasks_by_level;
};

struct SynthesisReport {
  std::vector<CategoryReport> categories;  // in synthesis order
  int total_envs = 0;
  int64_t total_tasks = 0;
  int64_t total_failed = 0;
  int64_t total_duplicates = 0;
  std::vector<std::string> failures;  // the first 20 failure messages, "env ID seed S: why"
  std::string digest;  // 16 hex digits over the deterministic serialization of everything made
  double seconds = 0;
};

struct SynthesisResult {
  std::vector<proto::EnvSpec> envs;
  std::vector<proto::Prompt> prompts;  // ids consecutive, in environment order
  SynthesisReport report;
};

// Synthesizes. Errors: InvalidArgument for an unknown category or bad counts/levels. Failing tasks
// and environments that do not build are not errors: they are counted and left out.
absl::StatusOr<SynthesisResult> Synthesize(const Registry& registry,
                                           const SynthesisOptions& options);

// Keeps only prompts that `policy` solves (score 1) at least once in `k` episodes: pass@k > 0.
// `policy_for(prompt, attempt)` gives the policy of one attempt (a seeded sampler). Environments
// are rebuilt from `registry`; attempts run on up to `threads` threads. Infrastructure errors count
// as failures. Environments left without tasks are dropped. Returns the number of prompts removed.
struct FilterReport {
  int64_t kept = 0;
  int64_t removed = 0;
  int64_t infra_errors = 0;
};
absl::StatusOr<FilterReport> FilterSolvable(
    const Registry& registry,
    const std::function<Policy(const proto::Prompt&, int attempt)>& policy_for, int k, int threads,
    SynthesisResult* result);

// The digest of a set of environments and prompts (as in SynthesisReport::digest).
std::string DigestOf(const std::vector<proto::EnvSpec>& envs,
                     const std::vector<proto::Prompt>& prompts);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SYNTHESIS_H_

// Everything a job needs, checked before it starts: what `dsarl config check` reports and what
// `run`, `learner`, `rollout`, `sft` and `eval` check first, so a config that passes the check
// does not fail at run time for a reason the check could have seen. The loader (proto/
// config_loader.h) checks syntax and ranges; this adds what needs the rest of dsarl: names resolved
// against the reward and environment registries (plugins loaded), files and directories, addresses,
// relations between fields (the longest prompt plus max_new_tokens within the context), and the
// memory the job's processes need against what this machine allows.
#ifndef DSARL_CLI_JOB_CHECK_H_
#define DSARL_CLI_JOB_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/config_loader.h"

namespace dsarl::cli {

// Which processes of a job run here; the memory estimate sums theirs.
enum class JobRole {
  kRun,          // `dsarl run`: the learner, rollout.num_workers workers, SFT and evaluation
  kLearner,      // `dsarl learner` (its rank 0)
  kLearnerRank,  // `dsarl learner` as another rank: trains, holds no store, serves nothing
  kRollout,      // `dsarl rollout`: one worker
  kSft,          // `dsarl sft`
  kEval,         // `dsarl eval`
};

struct JobCheckReport {
  std::vector<std::string> warnings;  // each "file:line:col: field: message"
  std::string memory;                 // the estimate, one line per process
  double memory_bytes = 0;
  double memory_limit_bytes = 0;
  int longest_prompt_tokens = 0;  // 0 when no tasks were looked at
};

// Runs every check of `role`. InvalidArgument listing each failure as "file:line:col: field:
// message"; the report is filled either way.
// Without `synthesize`, the prompt checks use the store only (none when it does not exist yet):
// `dsarl run` then checks the prompts with CheckJobPrompts once it has synthesized them, rather
// than synthesizing twice.
absl::Status CheckJob(const proto::LoadedJobConfig& job, JobRole role, JobCheckReport* report,
                      bool synthesize = true);

// The prompt checks alone, against the tasks in the store (warnings go to stderr).
absl::Status CheckJobPrompts(const proto::LoadedJobConfig& job, JobRole role);

// LoadJobConfigWithLocations, then CheckJob; prints the warnings to stderr. What every job command
// calls to read its config.
absl::StatusOr<proto::JobConfig> LoadCheckedJobConfig(const std::string& path,
                                                      const std::vector<std::string>& overrides,
                                                      JobRole role);
// The same, keeping the locations (for CheckJobPrompts); see CheckJob for `synthesize`.
absl::StatusOr<proto::LoadedJobConfig> LoadCheckedJob(const std::string& path,
                                                      const std::vector<std::string>& overrides,
                                                      JobRole role, bool synthesize);

}  // namespace dsarl::cli

#endif  // DSARL_CLI_JOB_CHECK_H_

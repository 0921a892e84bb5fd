// Evaluation of a policy on tasks (usually the held-out ones): k samples per task through the
// agent loop, pass@1 (mean success over samples) and pass@k (share of tasks solved at least once),
// per category. Success is the environment's verdict == 1.
#ifndef DSARL_ROLLOUT_EVAL_H_
#define DSARL_ROLLOUT_EVAL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rollout/agent_loop.h"

namespace dsarl::rollout {

struct CategoryEval {
  int tasks = 0;
  double pass_at_1 = 0, pass_at_k = 0;
  double mean_reward = 0;
};

struct EvalReport {
  std::map<std::string, CategoryEval> by_category;
  CategoryEval all;
  int k = 1;
  double seconds = 0;
  int infra_errors = 0;
};

struct EvalTask {
  proto::Prompt prompt;
  proto::EnvSpec env;
};

// Runs every task k times with `policy` (sampling per `options`, seeded per task).
absl::StatusOr<EvalReport> EvaluatePolicy(const model::Transformer& policy,
                                          const std::vector<EvalTask>& tasks, int k,
                                          envs::EnvFactory* factory,
                                          const rewards::Composer& composer, AgentOptions options);

// The report as an aligned text table (one row per category, then "all").
std::string FormatEvalTable(const EvalReport& report);

}  // namespace dsarl::rollout

#endif  // DSARL_ROLLOUT_EVAL_H_

// The rollout worker: leases prompts from the learner, pulls weights when the policy version
// changes, runs each prompt's group of episodes, and submits the groups. It retries with
// exponential backoff while the learner is away, and when asked to stop (SIGTERM) it returns the
// leases it has not finished and exits cleanly.
#ifndef DSARL_ROLLOUT_WORKER_H_
#define DSARL_ROLLOUT_WORKER_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/transformer.h"
#include "proto/learner.pb.h"
#include "rollout/learner_client.h"

namespace dsarl::rollout {

// Runs the G episodes of each leased prompt with `policy` and returns one Group per lease that
// finished (in any order); leases without a group are returned to the learner. Implementations
// check `stop` between episodes and return early when it turns true.
class GroupRunner {
 public:
  virtual ~GroupRunner() = default;
  virtual std::vector<proto::Group> RunGroups(const std::vector<proto::Lease>& leases,
                                              const model::Transformer& policy, int64_t version,
                                              const std::atomic<bool>& stop) = 0;
};

struct WorkerOptions {
  std::string worker_id = "worker";
  int prompts_per_lease = 4;
  double backoff_initial_s = 0.1;
  double backoff_max_s = 5.0;
  // Give up after this long without reaching the learner (0 = never).
  double give_up_after_s = 0.0;
};

struct WorkerStats {
  int64_t groups_submitted = 0, groups_duplicate = 0, groups_stale = 0, groups_rejected = 0;
  int64_t leases_returned = 0, weight_pulls = 0, retries = 0;
  int64_t episodes = 0, tokens = 0;
  double seconds_generating = 0;
};

class Worker {
 public:
  // `policy` holds the model's shape; its weights are replaced by every pull.
  Worker(LearnerClient* client, GroupRunner* runner, model::Transformer* policy,
         WorkerOptions options);

  // Runs until the learner says the job is finished (OK), `stop` turns true (OK, leases
  // returned), or the learner stays unreachable past give_up_after_s (Unavailable).
  absl::Status Run(const std::atomic<bool>& stop);

  const WorkerStats& stats() const { return stats_; }
  int64_t version() const { return version_; }

 private:
  // Calls `fn` until it succeeds, a non-transient error occurs, or stop / give-up.
  template <typename T>
  absl::StatusOr<T> Retry(const std::function<absl::StatusOr<T>()>& fn,
                          const std::atomic<bool>& stop);
  absl::Status EnsureWeights(int64_t version, const std::atomic<bool>& stop);

  LearnerClient* client_;
  GroupRunner* runner_;
  model::Transformer* policy_;
  WorkerOptions options_;
  WorkerStats stats_;
  int64_t version_ = -1;
};

}  // namespace dsarl::rollout

#endif  // DSARL_ROLLOUT_WORKER_H_

// The learner process: opens the job's store, starts (or resumes) a run, serves the Learner gRPC
// service, and trains: each step takes prompts_per_step groups, runs the GRPO trainer, publishes
// the new weights (version + 1), writes metrics (console progress, JSONL, TensorBoard) and, every
// checkpoint_every steps, a checkpoint. Started again with the same config it resumes from its last
// checkpoint and the store: groups received but not trained are trained, none twice. The
// checkpoints are learner/checkpointer's, the published images learner/weights'. Groups are
// checked (learner/intake.h) when submitted, when recovered at resume and when drawn for a step; a
// bad one goes to the store's quarantine and the job goes on without it.
#ifndef DSARL_LEARNER_LEARNER_JOB_H_
#define DSARL_LEARNER_LEARNER_JOB_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "learner/checkpointer.h"
#include "learner/convert.h"
#include "learner/intake.h"
#include "learner/learner_state.h"
#include "learner/metrics.h"
#include "learner/rank_link.h"
#include "learner/service.h"
#include "learner/trainer.h"
#include "learner/weights.h"
#include "proto/config.pb.h"
#include "store/store.h"

namespace dsarl::learner {

struct LearnerJobOptions {
  std::string listen;                                // overrides cluster.learner_listen when set
  rpc::ServerSecurity security;                      // token, TLS, mTLS (proto/rpc_security.h)
  std::function<void(const std::string&)> progress;  // one line per step (default: stderr)
  // The learner's ranks when it has several (not owned): this job is rank 0 and the others run
  // RunFollowerRank (learner/rank_link.h). Null: one rank.
  dist::Communicator* comm = nullptr;
};

// What Run trained in this process: enough to tell a run that learned from nothing.
struct TrainingTotals {
  int64_t steps = 0;                       // steps trained
  int64_t tokens = 0;                      // tokens the trainer forwarded in them
  int64_t episodes = 0;                    // trajectories of the groups drawn for them
  int64_t infra_errors = 0;                // of those, infrastructure errors
  int64_t groups = 0, uniform_groups = 0;  // groups drawn; of those, skipped for equal rewards
  std::string example_infra_error;         // the first one seen
};

class LearnerJob {
 public:
  // Errors: the store's (naming the directory), FailedPrecondition when the store has no training
  // prompts for the config's categories and difficulties, the checkpoint's when resuming fails.
  static absl::StatusOr<std::unique_ptr<LearnerJob>> Create(const proto::JobConfig& config,
                                                            LearnerJobOptions options);
  ~LearnerJob();

  int port() const { return server_->port(); }
  uint64_t run_id() const { return run_id_; }
  int64_t step() const { return step_; }
  bool resumed() const { return resumed_; }
  LearnerState* state() { return state_.get(); }
  store::Store* store() { return store_.get(); }
  const model::Transformer& policy() const { return *policy_; }

  // Trains until learner.total_steps steps are done (OK), or `stop` turns true (OK, after a
  // checkpoint). Then tells workers the job is finished, and the other ranks to stop (that rank 0
  // failed, when it did).
  absl::Status Run(const std::atomic<bool>& stop);

  // What Run has trained in this process so far.
  const TrainingTotals& totals() const { return totals_; }
  // OK when this process trained tokens, or no step at all. FailedPrecondition when it trained
  // steps on no tokens, naming the cause: the share of episodes that were infrastructure errors
  // (with one of them), and the groups skipped because their rewards were all equal.
  absl::Status CheckLearned() const;

  // The metrics of every step trained by this process, in order.
  const std::vector<std::map<std::string, double>>& history() const { return history_; }

 private:
  LearnerJob() = default;
  // Opens the store and finds the run with this job's name, or records a new one.
  absl::Status OpenRun();
  // The ids of the store's training prompts the config selects; FailedPrecondition for none.
  absl::StatusOr<std::vector<uint64_t>> TrainingPrompts() const;
  // The policy (and reference), the trainer, the shared state over `prompts`, the checkpointer
  // and the weights publisher.
  absl::Status StartTraining(std::vector<uint64_t> prompts);
  // Resumes from the last checkpoint, if any, and queues the stored groups not yet trained.
  absl::Status Resume();
  // Attempt counters that continue after every attempt stored for this run, so that no new group
  // collides with a stored one.
  absl::Status ContinueAttempts(SchedulerState* sched) const;
  // Queues the groups received but not trained, and those trained after the checkpoint at
  // `checkpoint_step` (their effect was lost with the process). Those that fail CheckGroup (a
  // store written by an older dsarl) are moved to the quarantine instead.
  absl::Status QueueUntrainedGroups(int64_t checkpoint_step);
  // Moves the stored group `g` to the quarantine with `reason` and counts it in this step's
  // groups/dropped. The store's error, if any.
  absl::Status QuarantineStored(const proto::Group& g, const std::string& reason,
                                const char* source);
  // Quarantines and removes the groups of `groups` that fail CheckGroup; returns how many.
  absl::StatusOr<int> DropInvalid(std::vector<proto::Group>* groups);
  // The trainable form of `groups`, and for each the index of its group in `source`. A group that
  // fails conversion is quarantined and removed from `groups`.
  absl::StatusOr<std::vector<TrainGroup>> Convert(std::vector<proto::Group>* groups,
                                                  ConvertStats* stats, std::vector<size_t>* source);
  // Trains one step on `groups` (drawn, checked); the groups the trainer drops are quarantined and
  // removed from `groups`. Errors: the trainer's or the store's.
  absl::StatusOr<StepReport> TrainStep(std::vector<proto::Group>* groups, ConvertStats* stats);
  absl::Status Checkpoint();
  // Run's loop.
  absl::Status RunSteps(const std::atomic<bool>& stop);
  // Rank 0's state to the other ranks (at start and resume).
  absl::Status SyncRanks();
  // Takes the next step's groups: prompts_per_step of them, or with skip_uniform_groups that many
  // with unequal rewards in `groups` and the all-equal ones drawn meanwhile in `uniform`. False
  // when the learner is stopping or (without skipping) fewer came within a second; the caller
  // requeues what was drawn.
  bool DrawGroups(std::vector<proto::Group>* groups, std::vector<proto::Group>* uniform,
                  const std::function<bool()>& stopping);
  // Metrics of a step trained on `groups`; `uniform` were drawn and skipped (rewards all equal).
  void Report(const StepReport& r, const std::vector<proto::Group>& groups,
              const std::vector<proto::Group>& uniform, double seconds, int64_t oldest_version);

  proto::JobConfig config_;
  LearnerJobOptions options_;
  std::unique_ptr<store::Store> store_;
  uint64_t run_id_ = 0;
  std::unique_ptr<model::Transformer> policy_;
  std::unique_ptr<Trainer> trainer_;
  std::unique_ptr<LearnerState> state_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<WeightsPublisher> weights_;
  std::unique_ptr<LearnerServer> server_;
  std::unique_ptr<MetricsWriter> metrics_;
  std::unique_ptr<RankLink> link_;  // with several ranks
  absl::Status link_error_;         // the first failure to reach the other ranks
  std::vector<std::map<std::string, double>> history_;
  TrainingTotals totals_;
  IntakeLimits intake_;   // the job's (max_policy_version unset)
  int step_dropped_ = 0;  // groups quarantined by training during the current step
  int64_t step_ = 0;
  int64_t version_ = 0;
  bool resumed_ = false;
  double total_seconds_ = 0;
};

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_LEARNER_JOB_H_

// The trainer: turns groups of trajectories into optimizer steps. It packs whole sequences into
// micro-batches by token budget, computes reference log-probs with a frozen reference model, runs
// the model's forward and backward under each trajectory's kept sets and recorded experts, and
// normalizes over the whole (mini-)batch before splitting, so an update does not depend on how the
// batch was split. Several mini-batch updates per rollout batch; non-finite steps are skipped. A
// group that is malformed, or brings a non-finite value of its own, is dropped from the step
// (reported), and the step trains on the others.
// The same trainer runs the LM (SFT) and DSA-stage losses.
// With a communicator of several ranks (learner/dist) a GRPO step is data-parallel
// (learner/data_parallel.h): every rank calls GrpoStep with the same batch and each trains the
// groups it owns; the result equals one rank's up to the order of float sums.
#ifndef DSARL_LEARNER_TRAINER_H_
#define DSARL_LEARNER_TRAINER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "learner/dist/communicator.h"
#include "learner/grpo.h"
#include "learner/optimizer.h"
#include "model/transformer.h"
#include "proto/config.pb.h"

namespace dsarl::learner {

// One trajectory as the learner sees it. Token-in, token-out: exactly what the model saw.
struct TrainSample {
  std::vector<int> tokens;
  std::vector<int> loss_mask;             // 1 for policy tokens; loss_mask[0] must be 0
  std::vector<float> behaviour_logprobs;  // per token (used where loss_mask is 1)
  std::vector<std::vector<int>> kept;     // per token, or empty (no truncation recorded)
  std::vector<int> routed_experts;        // [tokens, n_moe_layers, experts_per_tok] or empty
};

struct TrainGroup {
  std::vector<TrainSample> samples;
  std::vector<double> rewards;  // one per sample
};

struct TrainerOptions {
  GrpoConfig grpo;
  AdamWConfig adam;
  LrSchedule lr;
  double grad_clip = 1.0;  // 0 disables
  int micro_batch_tokens = 4096;
  int minibatches = 1;       // optimizer steps per rollout batch
  float temperature = 1.0f;  // the sampling temperature of the rollouts
  model::AttentionMode mode = model::AttentionMode::kSparse;
};

TrainerOptions TrainerOptionsFromConfig(const proto::JobConfig& config);

struct MinibatchReport {
  double loss = 0;
  double grad_norm = 0;  // before clipping
  double lr = 0;
  bool skipped = false;  // loss or gradient not finite: no update
};

// A group of the rollout batch the step left out, and why.
struct DroppedGroup {
  int group = 0;  // index into the batch
  std::string reason;
};

struct StepReport {
  std::vector<MinibatchReport> minibatches;
  std::vector<DroppedGroup> dropped;          // in batch order
  GrpoStats grpo;                             // over the rollout batch, each group at the policy it
                                              // was trained with
  double entropy = 0;                         // mean over counted tokens
  double indexer_kl = 0, indexer_recall = 0;  // LM steps with the indexer loss (mean per row)
  std::vector<double> layer_kl, layer_recall;  // the same per layer
  double lm_loss = 0;                          // LM steps: mean NLL over loss-mask tokens
  int64_t tokens = 0;                          // tokens forwarded (all, incl. context)
  int micro_batches = 0;
  std::vector<int> resynced_ranks;  // data-parallel: ranks whose weights had drifted from rank 0's
};

struct LmStepOptions {
  model::AttentionMode mode = model::AttentionMode::kSparse;
  bool lm_loss = true;               // mean NLL over loss-mask tokens
  bool indexer_loss = false;         // SPEC §2 KL (always on in kDenseWarmup)
  bool indexer_only = false;         // update only the indexers (DSA warm-up)
  bool no_update = false;            // evaluate only: no backward, no optimizer step
  float indexer_loss_weight = 1.0f;  // weight of the per-row mean KL in the loss
};

class Trainer {
 public:
  // `reference` may be null when grpo.beta == 0. The trainer updates `policy` in place.
  Trainer(model::Transformer* policy, std::unique_ptr<model::Transformer> reference,
          TrainerOptions options);

  // One rollout batch: reference log-probs, then `minibatches` optimizer steps over consecutive
  // slices of the groups. A group is dropped (listed in `dropped`; the step goes on with the
  // others) when it fails CheckTrainGroup, its advantages or reference log-probs are not finite,
  // or its loss terms under the current policy are not finite while another group's in the same
  // mini-batch are (when every group's are, the policy is at fault: the update is skipped, as for
  // a non-finite gradient). A mini-batch left with no group takes no update (reported skipped).
  // InvalidArgument only for an empty batch. Afterwards the policy's grads() hold the gradient of
  // the last mini-batch as the optimizer applied it (after clipping); a skipped step leaves the
  // non-finite gradient there.
  absl::StatusOr<StepReport> GrpoStep(const std::vector<TrainGroup>& batch);

  // One optimizer step of the LM loss (SFT) and/or the indexer loss (DSA stages).
  absl::StatusOr<StepReport> LmStep(const std::vector<TrainSample>& batch,
                                    const LmStepOptions& options);

  // Current log-probs of each sample's tokens under `model` (0 where loss_mask is 0), in
  // micro-batches: what the reference model and evaluation need.
  absl::StatusOr<std::vector<std::vector<float>>> LogProbs(
      model::Transformer* model, const std::vector<const TrainSample*>& samples);

  int64_t step() const { return step_; }
  void set_step(int64_t step) { step_ = step; }
  // The ranks GrpoStep splits its groups over (not owned; null: this process alone). LmStep
  // always runs on this rank alone.
  void set_communicator(dist::Communicator* comm) { comm_ = comm; }
  AdamW& optimizer() { return *adam_; }
  model::Transformer* reference() { return reference_.get(); }
  const TrainerOptions& options() const { return options_; }

 private:
  // Sample indices packed into micro-batches of at most micro_batch_tokens (>= 1 sample each).
  std::vector<std::vector<int>> Pack(const std::vector<const TrainSample*>& samples) const;
  absl::StatusOr<model::PackedBatch> Build(const std::vector<const TrainSample*>& samples,
                                           const std::vector<int>& which) const;
  // Clips, checks finiteness, steps the optimizer (or skips). Fills `report`.
  void ApplyUpdate(bool indexer_only, double loss, MinibatchReport* report);
  // Forward options that score rollouts: their temperature, and dense attention in place of the
  // dense warm-up.
  model::ForwardOptions ScoringOptions() const;

  struct GrpoPass;  // one GrpoStep's flattened batch and running sums (trainer.cc)
  // Groups of `batch` that cannot be trained (CheckTrainGroup, advantages), into pass->drop; the
  // others into the accumulator and pass->samples.
  void AdmitGroups(const std::vector<TrainGroup>& batch, GrpoPass* pass) const;
  // Reference log-probs of this rank's samples into pass->ref; drops (on every rank) the groups
  // with a non-finite one on a counted token.
  absl::Status ReferenceLogProbs(GrpoPass* pass);
  // Sums what each rank added to the pass's statistics, so that every rank reports the batch's.
  absl::Status ReduceStatistics(GrpoPass* pass);
  // Compares a fingerprint of every rank's weights and moments with rank 0's, and gives the ranks
  // that differ rank 0's (listed in `resynced`).
  absl::Status SyncReplicas(std::vector<int>* resynced);
  bool Owned(const GrpoPass& pass, int group) const;
  // One optimizer step on the groups [g0, g1) of the rollout batch not dropped, normalized over
  // them; a group whose terms are not finite is dropped and the mini-batch computed again.
  absl::Status GrpoMinibatch(int g0, int g1, GrpoPass* pass);
  // The forward and backward of one mini-batch into grads(): its objective J in `objective`, and
  // the groups whose terms are not finite in `bad`.
  absl::Status GrpoMinibatchPass(int g0, int g1, GrpoPass* pass, double* objective,
                                 std::vector<int>* bad);
  // Forward of samples[micro] (`index` maps `samples` into pass->samples), each sequence's GRPO
  // terms added to `objective` (J), and the backward of d(loss)/d(logp). Groups with a
  // non-finite term are added to `bad` (once each).
  absl::Status GrpoMicroBatch(const std::vector<const TrainSample*>& samples,
                              const std::vector<int>& index, const std::vector<int>& micro,
                              const GrpoNorm& norm, GrpoPass* pass, double* objective,
                              std::vector<int>* bad);

  model::Transformer* policy_;
  std::unique_ptr<model::Transformer> reference_;
  TrainerOptions options_;
  std::unique_ptr<AdamW> adam_;
  std::unique_ptr<AdamW> indexer_adam_;
  dist::Communicator* comm_ = nullptr;
  int64_t step_ = 0;
};

// Checks one sample's internal consistency against the model's vocabulary.
absl::Status ValidateSample(const TrainSample& s, int vocab, int routed_per_token);

// OK when every sample of `g` can be forwarded by a model of `dims` and scored: ValidateSample,
// at most max_pos tokens, kept sets of policy tokens with ids in the vocabulary that contain the
// token, recorded experts distinct and in range, rewards (one per sample) finite. InvalidArgument
// naming the sample otherwise.
absl::Status CheckTrainGroup(const TrainGroup& g, const model::ModelDims& dims);

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_TRAINER_H_

// The LM-loss stages before RL (SPEC §2 and SFT): batches of token sequences trained with the
// trainer's LM step, in one of three recipes:
//   SFT          LM loss on loss-mask tokens (assistant tokens of rendered conversations)
//   DSA warm-up  dense attention, everything frozen but the indexers, indexer KL loss (§2.1)
//   DSA sparse   top-k attention, LM loss for the model, KL over the selected set for the indexers,
//                whose inputs are detached (§2.2)
// and the evaluation that reports per-layer indexer KL and recall (the share of dense attention
// mass inside the indexer's top-k) and LM loss.
#ifndef DSARL_LEARNER_LM_STAGES_H_
#define DSARL_LEARNER_LM_STAGES_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "learner/trainer.h"
#include "model/tokenizer.h"

namespace dsarl::learner {

enum class LmStage { kSft, kDsaWarmup, kDsaSparse };

// Sequences from a text file: each non-empty line is <bos> + its tokens (`tok`) + <eos>, cut into
// pieces of at most max_len tokens; every token but the first is trained. NotFound /
// InvalidArgument name the file (and line); FailedPrecondition for a tokenizer without <bos> and
// <eos>.
absl::StatusOr<std::vector<TrainSample>> LoadTextCorpus(
    const std::string& path, int max_len, const model::Tokenizer& tok = model::Tokenizer());

struct StageOptions {
  LmStage stage = LmStage::kSft;
  int steps = 100;
  int batch_tokens = 4096;  // tokens per optimizer step
  uint64_t seed = 1;        // batch order
  int log_every = 10;
};

struct StageStepMetrics {
  int step = 0;
  double lm_loss = 0;
  double indexer_kl = 0, recall = 0;
  std::vector<double> layer_kl, layer_recall;
};

// Runs `options.steps` optimizer steps of the stage over batches drawn (seeded, without
// replacement per epoch) from `data`; calls `on_step` after each. InvalidArgument for empty data.
absl::StatusOr<std::vector<StageStepMetrics>> RunLmStage(
    Trainer* trainer, const std::vector<TrainSample>& data, const StageOptions& options,
    const std::function<void(const StageStepMetrics&)>& on_step);

struct StageEval {
  double lm_loss_dense = 0, lm_loss_sparse = 0;  // mean NLL per trained token
  double recall = 0, indexer_kl = 0;             // dense support, mean over rows and layers
  std::vector<double> layer_recall, layer_kl;
};

// Evaluates without updating: LM loss under dense and sparse attention, and the indexer's
// recall/KL against dense attention.
absl::StatusOr<StageEval> EvaluateStage(Trainer* trainer, const std::vector<TrainSample>& data,
                                        int batch_tokens);

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_LM_STAGES_H_

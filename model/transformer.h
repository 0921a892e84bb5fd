// The DSA transformer for training: forward over a packed batch of variable-length sequences
// (no attention across sequence boundaries) returning per-token log-probs of the targets, and
// backward from an upstream d(loss)/d(logp) per token into every parameter's gradient.
// Parameters and gradients are two buffers with the layout of one ParamTable.
#ifndef DSARL_MODEL_TRANSFORMER_H_
#define DSARL_MODEL_TRANSFORMER_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/dims.h"
#include "model/layer.h"
#include "model/params.h"

namespace dsarl::model {

struct PackedBatch {
  std::vector<int> tokens;     // [T] all sequences back to back
  std::vector<int> seq_start;  // [n + 1] sequence i is tokens[seq_start[i], seq_start[i+1])
  std::vector<int> targets;    // [T] token to score at each position (-1: none)
  // Optional [T]: the kept top-k/top-p set at each position; logp is renormalized over it (SPEC
  // §3, keep sampling mask). Empty vector (or empty entry) = the whole vocabulary.
  std::vector<std::vector<int>> kept;
  // Optional [T, n_moe_layers, experts_per_tok]: experts recorded at sampling (keep routing).
  std::vector<int> forced_experts;
};

struct ForwardOptions {
  AttentionMode mode = AttentionMode::kSparse;
  bool indexer_loss = false;     // compute SPEC §2's KL loss (always in kDenseWarmup)
  bool detach_indexer = true;    // the indexer loss does not reach the indexer's inputs
  float indexer_loss_scale = 1;  // gradient weight of sum_rows KL (e.g. 1 / rows for a mean)
  bool entropy = false;          // also return full-vocabulary entropy per position
  // Log-probs (and entropy) of softmax(logits / temperature): the distribution the sampler drew
  // from at that temperature. 1 = the raw logits.
  float temperature = 1.0f;
};

struct LayerIndexerStats {
  double kl_sum = 0;      // sum over rows of the indexer KL
  double recall_sum = 0;  // sum over rows of dense attention mass inside the top-k (dense modes;
                          // rows that see more than index_topk keys)
  int rows = 0;
  int recall_rows = 0;
};

struct ForwardResult {
  std::vector<float> logp;                 // [T] log-prob of targets[t] (0 where target is -1)
  std::vector<float> entropy;              // [T] when requested
  std::vector<int> routed_experts;         // [T, n_moe_layers, experts_per_tok]
  std::vector<LayerIndexerStats> indexer;  // per layer, when the indexer loss was computed
};

class Transformer {
 public:
  explicit Transformer(const ModelDims& dims);

  const ModelDims& dims() const { return dims_; }
  const ParamTable& table() const { return table_; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  const ModelTensors& weights() const { return w_; }
  const cpu::RopeTable& rope() const { return rope_; }
  // The op table every computation goes through (the CPU reference by default).
  const Backend& backend() const { return *backend_; }
  // Activations of layer l from the last Forward (e.g. the selected top-k indices).
  const LayerActs& layer_acts(int l) const { return acts_[l]; }

  void InitRandom(uint64_t seed);
  void ZeroGrad();

  // Runs the forward pass and keeps the activations for Backward. InvalidArgument for a malformed
  // batch (token out of vocabulary, sequence longer than max_pos, bad kept set or forced experts).
  absl::StatusOr<ForwardResult> Forward(const PackedBatch& batch, const ForwardOptions& options);

  // Adds gradients of sum_t dlogp[t] * logp[t] (plus the indexer loss, when computed) to grads().
  // dlogp == nullptr: only the indexer loss (DSA warm-up). FailedPrecondition without a Forward.
  absl::Status Backward(const float* dlogp);

 private:
  absl::Status Validate(const PackedBatch& batch) const;
  cpu::KeyRows Keys(const std::vector<float>& buf, int width) const;
  // Forward of layer l of the saved batch (the moe_index-th MoE layer when it is one):
  // x [T, D] -> out [T, D]; records its routing, and its indexer loss when the options ask.
  void ForwardLayer(int l, int moe_index, const float* x, float* out, ForwardResult* r);
  // SPEC §2's indexer loss of one layer against its attention; keeps the gradients in `a`.
  LayerIndexerStats LayerIndexerLoss(LayerActs* a, const cpu::KeyRows& attn_keys,
                                     const cpu::KeyRows& index_keys);
  // Final norm, lm_head and temperature on the last layer's output x [T, D]; the targets'
  // log-probs (and entropy) into r.
  void HeadForward(const std::vector<float>& x, ForwardResult* r);

  ModelDims dims_;
  const Backend* backend_ = &CpuBackend();
  ParamTable table_;
  std::vector<float> params_, grads_;
  ModelTensors w_, g_;
  cpu::RopeTable rope_;
  // Saved by Forward for Backward.
  PackedBatch batch_;
  ForwardOptions options_;
  std::vector<int> pos_;
  std::vector<LayerActs> acts_;
  std::vector<float> x_final_, xn_final_, rstd_final_, logits_;  // logits_ already / temperature
  bool have_forward_ = false;
};

}  // namespace dsarl::model

#endif  // DSARL_MODEL_TRANSFORMER_H_

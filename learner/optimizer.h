// AdamW over the model's single parameter buffer (moments laid out like it), the learning-rate
// schedule (linear warm-up, cosine decay), and gradient-norm utilities. Which tensors train is a
// filter over the ParamTable: all trainable ones, or only the indexers (DSA warm-up).
#ifndef DSARL_LEARNER_OPTIMIZER_H_
#define DSARL_LEARNER_OPTIMIZER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/params.h"

namespace dsarl::learner {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.0;  // decoupled; applied to matrices only (not norms, biases)
};

struct LrSchedule {
  double peak = 1e-5;
  int warmup_steps = 0;
  int total_steps = 1;
  double min_ratio = 0.1;
  // Linear warm-up from peak/warmup to peak over warmup_steps, then cosine decay to
  // min_ratio * peak at total_steps, constant after. `step` counts from 0.
  double At(int64_t step) const;
};

using TensorFilter = std::function<bool(const model::TensorInfo&)>;
// Trainable tensors (everything but buffers such as e_score_correction_bias).
bool AllTrainable(const model::TensorInfo& t);
// Only the lightning indexers' tensors (DSA dense warm-up, SPEC §2.1).
bool IndexerOnly(const model::TensorInfo& t);

class AdamW {
 public:
  AdamW(const model::ParamTable& table, AdamWConfig config, TensorFilter filter);

  // One update of the selected tensors of `params` with `grads` at learning rate `lr`.
  void Step(float* params, const float* grads, double lr);
  int64_t steps() const { return t_; }
  // The moments and the step count, for the learner's ranks to take rank 0's (learner/rank_link).
  std::vector<float>& first_moment() { return m_; }
  std::vector<float>& second_moment() { return v_; }
  void set_steps(int64_t t) { t_ = t; }

  // Moments and step count as safetensors (for resuming); Load checks shapes and names.
  absl::Status Save(const std::string& path) const;
  absl::Status Load(const std::string& path);

 private:
  const model::ParamTable& table_;
  AdamWConfig config_;
  TensorFilter filter_;
  std::vector<float> m_, v_;
  int64_t t_ = 0;
};

// L2 norm of the selected tensors' gradients (accumulated in double); NaN/inf propagate.
double GradNorm(const model::ParamTable& table, const float* grads, const TensorFilter& filter);
// Multiplies the selected gradients by `scale`.
void ScaleGrads(const model::ParamTable& table, float* grads, const TensorFilter& filter,
                float scale);

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_OPTIMIZER_H_

// Feed-forward blocks: the SwiGLU MLP and DeepSeekMoE (sigmoid router with a selection-only bias,
// group-limited top-k, shared experts), forward with saved activations and backward.
#ifndef DSARL_MODEL_CPU_FFN_H_
#define DSARL_MODEL_CPU_FFN_H_

#include <vector>

#include "model/cpu/ops.h"
#include "model/dims.h"
#include "model/params.h"

namespace dsarl::model::cpu {

// The dense kernels an FFN is built from. The CPU backend uses sgemm (FastFfnKernels); the
// reference backend passes plain loops (model/cpu/reference.h), so both share one implementation
// of routing and of the expert bookkeeping.
struct FfnKernels {
  decltype(&MatmulForward) matmul_forward;
  decltype(&MatmulBackward) matmul_backward;
  decltype(&SwiGluForward) swiglu_forward;
  decltype(&SwiGluBackward) swiglu_backward;
};
const FfnKernels& FastFfnKernels();

struct MlpActs {
  std::vector<float> g, u, h;  // [T, hidden]: gate, up, silu(g) * u
};

// y[T, D] (+= when accumulate) = down(silu(gate x) * up x).
void MlpForward(float* y, MlpActs* acts, const float* x, const MlpTensors& w, int T, int D,
                bool accumulate);
// dx[T, D] += ..., parameter grads into gw (same layout as w).
void MlpBackward(float* dx, const MlpTensors& gw, const float* dy, const float* x,
                 const MlpActs& acts, const MlpTensors& w, int T, int D);
// The same with the given kernels.
void MlpForwardWith(const FfnKernels& k, float* y, MlpActs* acts, const float* x,
                    const MlpTensors& w, int T, int D, bool accumulate);
void MlpBackwardWith(const FfnKernels& k, float* dx, const MlpTensors& gw, const float* dy,
                     const float* x, const MlpActs& acts, const MlpTensors& w, int T, int D);

struct MoeActs {
  std::vector<float> scores;   // [T, E] sigmoid(router logits)
  std::vector<int> experts;    // [T, k] chosen experts
  std::vector<float> weights;  // [T, k] combine weights
  // Per expert: the rows routed to it (row * k + slot), their inputs, activations and outputs.
  std::vector<std::vector<int>> routed;
  std::vector<std::vector<float>> x_in, y_out;
  std::vector<MlpActs> acts;
  MlpActs shared;
};

// MoE forward. `forced` ([T, k], or null) replaces the router's choice (keep routing); the combine
// weights still come from the current router. InvalidArgument-free: forced ids are clamped by the
// caller's validation.
void MoeForward(float* y, MoeActs* acts, const float* x, const LayerTensors& w, const ModelDims& d,
                const int* forced, int T);
void MoeBackward(float* dx, const LayerTensors& gw, const float* dy, const float* x,
                 const MoeActs& acts, const LayerTensors& w, const ModelDims& d, int T);
void MoeForwardWith(const FfnKernels& k, float* y, MoeActs* acts, const float* x,
                    const LayerTensors& w, const ModelDims& d, const int* forced, int T);
void MoeBackwardWith(const FfnKernels& k, float* dx, const LayerTensors& gw, const float* dy,
                     const float* x, const MoeActs& acts, const LayerTensors& w, const ModelDims& d,
                     int T);

}  // namespace dsarl::model::cpu

#endif  // DSARL_MODEL_CPU_FFN_H_

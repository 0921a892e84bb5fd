// One transformer block of SPEC §1 (MLA in MQA form + lightning indexer + SwiGLU or MoE), split
// into the steps that training and generation share:
//   LayerProject  x -> queries, this block's new keys (MLA latent + rope key, indexer key)
//   LayerAttend   indexer top-k (sparse) and attention over keys the caller laid out (KeyRows)
//   LayerOutput   value up-projection, o_proj, residual, FFN/MoE, residual
// Training keeps LayerActs for LayerBackward; generation points KeyRows at its caches. Every op
// goes through the Backend table `be`.
#ifndef DSARL_MODEL_LAYER_H_
#define DSARL_MODEL_LAYER_H_

#include <vector>

#include "model/backend.h"
#include "model/cpu/attention.h"
#include "model/cpu/ffn.h"
#include "model/cpu/indexer.h"
#include "model/cpu/ops.h"
#include "model/dims.h"
#include "model/params.h"

namespace dsarl::model {

struct LayerActs {
  int T = 0;
  std::vector<float> x_in;            // [T, D] block input (residual stream)
  std::vector<float> xn1, rstd1;      // attention-norm output, its 1/rms
  std::vector<float> qa, cq, rstd_q;  // [T, q_lora] q_a_proj out, its norm (the query latent)
  std::vector<float> q;               // [T, H, nope + rope] q_b_proj out, rope applied
  std::vector<float> kva, rstd_kv;    // [T, d_c + rope] kv_a_proj out (pre-norm, pre-rope)
  std::vector<float> kv;              // [T, d_c + rope] keys: [norm(c_kv) ; rope(k_rope)]
  std::vector<float> qabs;            // [T, H, d_c + rope] absorbed queries
  std::vector<float> o, lse;          // [T, H, d_c], [T, H]
  std::vector<float> v;               // [T, H * v_head]
  std::vector<float> x_mid;           // [T, D] after the attention residual
  std::vector<float> xn2, rstd2;      // FFN-norm output
  cpu::MlpActs mlp;
  cpu::MoeActs moe;
  // Lightning indexer.
  std::vector<float> qi;          // [T, H_I, d_I] rope applied
  std::vector<float> ki_pre, ki;  // [T, d_I] wk out; LayerNorm + rope
  std::vector<float> ki_mean, ki_rstd;
  std::vector<float> wi;     // [T, H_I] weights_proj out * H_I^-0.5
  std::vector<int> indices;  // [T, topk] selected keys (sparse), -1 = empty
  int topk = 0;
  // Gradients of the indexer loss w.r.t. qi, ki, wi (filled when the loss is computed).
  std::vector<float> dqi, dki, dwi;
  bool has_indexer_grad = false;
};

// x: [T, D] block input; pos: [T] position of each row within its sequence.
void LayerProject(const Backend& be, LayerActs* a, const float* x, const int* pos,
                  const LayerTensors& w, const ModelDims& d, const cpu::RopeTable& rope, int T);

// Attention for the T rows. attn_keys/index_keys locate each row's MLA keys and indexer keys.
// `sparse` selects top-k with the indexer first (a.indices), else attends densely.
void LayerAttend(const Backend& be, LayerActs* a, const cpu::KeyRows& attn_keys,
                 const cpu::KeyRows& index_keys, const ModelDims& d, bool sparse);

// out: [T, D] block output. forced_experts: [T, k] or null.
void LayerOutput(const Backend& be, float* out, LayerActs* a, const LayerTensors& w,
                 const ModelDims& d, const int* forced_experts);

// MoE routing of many layers is laid out [T, n_moe_layers, k]; one MoE layer's is [T, k].
// The [T, k] of MoE layer `moe_index` (0-based among the MoE layers) taken out of `all`.
std::vector<int> MoeLayerExperts(const std::vector<int>& all, int T, int n_moe_layers, int k,
                                 int moe_index);
// Writes one MoE layer's experts [T, k] into all [T, n_moe_layers, k] at `moe_index`.
void SetMoeLayerExperts(int* all, const int* layer_experts, int T, int n_moe_layers, int k,
                        int moe_index);

// Backward of the whole block given dout [T, D]; adds into dx [T, D] and parameter grads g.
// When `lm` is false only the indexer-loss gradients are propagated (DSA warm-up).
// `detach_indexer` stops indexer-loss gradients at the indexer's inputs (c_q and the normed x).
void LayerBackward(const Backend& be, float* dx, const LayerTensors& g, const float* dout,
                   const LayerActs& a, const LayerTensors& w, const ModelDims& d,
                   const cpu::RopeTable& rope, const int* pos, const cpu::KeyRows& attn_keys,
                   bool lm, bool detach_indexer);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_LAYER_H_

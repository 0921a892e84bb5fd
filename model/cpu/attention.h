// MLA attention in MQA ("absorbed") form, SPEC §1: every head attends over the same keys
// kv_s = [c_kv,s ; k_rope,s] (D = d_c + d_r) and reads values c_kv,s (the first d_c dims).
// One kernel serves training, prefill and decode: each query row names where its sequence's keys
// start (kv_base) and how many it may see (n_keys, the causal prefix), and optionally the top-k key
// indices the lightning indexer selected (relative to kv_base; -1 = unused slot).
#ifndef DSARL_MODEL_CPU_ATTENTION_H_
#define DSARL_MODEL_CPU_ATTENTION_H_

#include <vector>

namespace dsarl::model::cpu {

struct AttentionShape {
  int heads = 0;  // H
  int d_c = 0;    // value width (latent rank)
  int d_r = 0;    // rope width
  float scale = 1.0f;
  int dim() const { return d_c + d_r; }
};

// Where each query row finds its keys.
struct KeyRows {
  std::vector<const float*> base;  // [rows]: first key row of the row's sequence, keys [n, D]
  std::vector<int> n_keys;         // [rows]: keys 0..n_keys-1 are visible (causal prefix)
  const int* indices = nullptr;    // optional [rows, topk]: selected keys, -1 = empty slot
  int topk = 0;
};

// o[rows, H, d_c] = softmax_s(scale q . kv_s) c_kv,s;  lse[rows, H] saved for backward.
// q: [rows, H, D]. Rows sharing a key base are processed in blocks with sgemm (dense) or with a
// per-row gather of the selected keys (sparse).
void AttentionForward(float* o, float* lse, const float* q, const KeyRows& keys,
                      const AttentionShape& shape, int rows);

// Backward from do[rows, H, d_c]: dq[rows, H, D] += ..., and key gradients into dkv, a buffer laid
// out like the key buffer `kv` that KeyRows::base points into (dkv + (base - kv) is a row's keys).
void AttentionBackward(float* dq, float* dkv, const float* d_o, const float* q, const float* kv,
                       const KeyRows& keys, const float* o, const float* lse,
                       const AttentionShape& shape, int rows, int kv_rows);

// The same two functions written as plain loops, one (row, head, key) at a time: the reference the
// blocked versions above are tested against.
void AttentionForwardReference(float* o, float* lse, const float* q, const KeyRows& keys,
                               const AttentionShape& shape, int rows);
void AttentionBackwardReference(float* dq, float* dkv, const float* d_o, const float* q,
                                const float* kv, const KeyRows& keys, const float* o,
                                const float* lse, const AttentionShape& shape, int rows,
                                int kv_rows);

// The indexer's training target for one query row (SPEC §2): attention probabilities summed over
// heads and L1-normalized, over the row's support: all visible keys (dense; p has n_keys entries)
// or its selected indices (sparse; p has topk entries, 0 for empty slots).
void AttentionTargetRow(float* p, const float* q_row, const float* lse_row, const KeyRows& keys,
                        int row, const AttentionShape& shape);

}  // namespace dsarl::model::cpu

#endif  // DSARL_MODEL_CPU_ATTENTION_H_

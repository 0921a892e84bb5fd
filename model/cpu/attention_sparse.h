// Forward of one sparse (top-k) attention row without gathering its keys: the scores and the
// weighted values are accumulated straight from the key cache, vectorized over heads. Decode spends
// most of a sparse step here, and the gather plus two small sgemm calls (each packing the gathered
// keys again) cost several times the arithmetic.
#ifndef DSARL_MODEL_CPU_ATTENTION_SPARSE_H_
#define DSARL_MODEL_CPU_ATTENTION_SPARSE_H_

#include <vector>

#include "model/cpu/attention.h"

namespace dsarl::model::cpu {

// Reusable buffers of one thread.
struct SparseRowScratch {
  std::vector<float> q_t;         // [D, H]: the row's queries, transposed and scaled
  std::vector<float> p;           // [m, H]: scores, then unnormalized probabilities
  std::vector<const float*> key;  // [m]: the selected keys' rows
};

// o[H, d_c] and lse[H] of one query row q[H, D] over the keys base[idx[j]] for idx[j] in [0, n).
// Returns false, touching nothing, for head counts without a specialized kernel (the caller then
// uses the gathering path).
bool SparseRowForward(float* o, float* lse, const float* q, const float* base, const int* idx,
                      int topk, int n, const AttentionShape& shape, SparseRowScratch* scratch);

}  // namespace dsarl::model::cpu

#endif  // DSARL_MODEL_CPU_ATTENTION_SPARSE_H_

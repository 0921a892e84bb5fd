// The lightning indexer of DSA (SPEC §1): scores every visible key for a query with a few cheap
// ReLU heads, and picks the top-k keys the query will attend to. Also its training loss (SPEC §2):
// KL(p || softmax(I)) against the main attention's head-summed distribution p.
#ifndef DSARL_MODEL_CPU_INDEXER_H_
#define DSARL_MODEL_CPU_INDEXER_H_

#include <functional>

#include "model/cpu/attention.h"

namespace dsarl::model::cpu {

struct IndexerShape {
  int heads = 0;  // H_I
  int dim = 0;    // d_I
};

// I[s] = sum_j w[j] * d_I^-0.5 * ReLU(q[j] . k[s]) for s < n_keys.  q_row: [H_I, d_I], w_row: [H_I]
// (already multiplied by H_I^-0.5), k: [n_keys, d_I].
void IndexerScoresRow(float* scores, const float* q_row, const float* w_row, const float* k,
                      int n_keys, const IndexerShape& shape);

// Top-k of scores[0..n): k = min(topk, n) indices, ascending, written to out[0..topk) with -1 in
// unused slots. Ties go to the larger index (the more recent token), so every backend agrees.
void TopKRow(int* out, const float* scores, int n, int topk);
// The same choice by sorting indices with the tie rule as comparator: the reference.
void TopKRowReference(int* out, const float* scores, int n, int topk);

// indices[rows, topk] for every row: keys.base points at each row's indexer keys [n, d_I]. Rows
// that share a key base are scored together with sgemm ([block * H_I, n] panels).
void IndexerSelect(int* indices, const float* q, const float* w, const KeyRows& keys,
                   const IndexerShape& shape, int rows, int topk);
// The same selection scoring one row at a time with IndexerScoresRow: the reference.
void IndexerSelectReference(int* indices, const float* q, const float* w, const KeyRows& keys,
                            const IndexerShape& shape, int rows, int topk);

// Provides the target distribution p for a row over its support (see AttentionTargetRow).
using TargetFn = std::function<void(int row, float* p)>;

struct IndexerLossStats {
  double kl_sum = 0;      // sum over rows of KL(p || softmax(I)) on the support
  double recall_sum = 0;  // dense support only: sum over rows of p mass inside the row's top-k,
                          // over rows that see more than topk keys (others keep everything)
  int rows = 0;
  int recall_rows = 0;  // rows counted in recall_sum
};

// Loss and gradients of sum_rows grad_scale * KL(p || softmax(I)) on each row's support: all
// visible keys when `support` is null (dense warm-up), else support[rows, topk] (sparse stage).
// Adds into dq [rows, H_I, d_I], dk (laid out like `k`, kv_rows rows) and dw [rows, H_I]; any may
// be null to skip it. `topk` is used for the recall statistic on a dense support.
IndexerLossStats IndexerLoss(float* dq, float* dk, float* dw, const float* q, const float* k,
                             const float* w, const KeyRows& keys, const int* support, int topk,
                             const TargetFn& target, const IndexerShape& shape, int rows,
                             int kv_rows, float grad_scale);

}  // namespace dsarl::model::cpu

#endif  // DSARL_MODEL_CPU_INDEXER_H_

// Plain-loop reference versions of the CPU ops that have a faster version (sgemm, OpenMP,
// intrinsics): one element at a time, accumulating in double, on the calling thread. Semantics and
// shapes are those of the op of the same name without the suffix (model/cpu/ops.h, ffn.h,
// indexer.h, attention.h). Together with AttentionForwardReference, AttentionBackwardReference and
// IndexerSelectReference they form ReferenceBackend() (model/backend.h), which the op-test harness
// (tests/model/op_test.cc) compares every backend against.
#ifndef DSARL_MODEL_CPU_REFERENCE_H_
#define DSARL_MODEL_CPU_REFERENCE_H_

#include <vector>

#include "model/cpu/attention.h"
#include "model/cpu/ffn.h"
#include "model/cpu/indexer.h"
#include "model/cpu/ops.h"

namespace dsarl::model::cpu {

// As BLAS: with beta == 0, C is written without being read (it may hold NaN).
void GemmReference(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* a,
                   int lda, const float* b, int ldb, float beta, float* c, int ldc);

void MatmulForwardReference(float* out, const float* in, const float* w, int T, int K, int N,
                            bool accumulate, int ld_out, int ld_in);
void MatmulBackwardReference(float* din, float* dw, const float* dout, const float* in,
                             const float* w, int T, int K, int N, int ld_dout, int ld_in,
                             int ld_din);

void RmsNormForwardReference(float* out, float* rstd, const float* in, const float* w, int T, int C,
                             float eps, int ld_in);
void RmsNormBackwardReference(float* din, float* dw, const float* dout, const float* in,
                              const float* w, const float* rstd, int T, int C, int ld_in,
                              int ld_din);

void LayerNormForwardReference(float* out, float* mean, float* rstd, const float* in,
                               const float* w, const float* b, int T, int C, float eps);
void LayerNormBackwardReference(float* din, float* dw, float* db, const float* dout,
                                const float* in, const float* w, const float* mean,
                                const float* rstd, int T, int C);

void SwiGluForwardReference(float* out, const float* g, const float* u, int T, int F);
void SwiGluBackwardReference(float* dg, float* du, const float* dout, const float* g,
                             const float* u, int T, int F);

void EmbeddingForwardReference(float* out, const int* tokens, const float* table, int T, int C);
void EmbeddingBackwardReference(float* dtable, const float* dout, const int* tokens, int T, int C);

void RopeInterleavedReference(float* x, const int* pos, const RopeTable& table, int T, int heads,
                              int row_stride, int head_stride, int col, bool inverse);
void RopeHalfReference(float* x, const int* pos, const RopeTable& table, int T, int heads,
                       int row_stride, int head_stride, int col, bool inverse);

void LogProbForwardReference(float* logp, float* entropy, const float* logits, const int* target,
                             const std::vector<std::vector<int>>* kept, int T, int V);
void LogProbBackwardReference(float* dlogits, const float* dlogp, const float* logits,
                              const int* target, const std::vector<std::vector<int>>* kept, int T,
                              int V);

void AttentionTargetRowReference(float* p, const float* q_row, const float* lse_row,
                                 const KeyRows& keys, int row, const AttentionShape& shape);

// The indexer loss with the reference top-k (TopKRowReference) for its recall statistic.
IndexerLossStats IndexerLossReference(float* dq, float* dk, float* dw, const float* q,
                                      const float* k, const float* w, const KeyRows& keys,
                                      const int* support, int topk, const TargetFn& target,
                                      const IndexerShape& shape, int rows, int kv_rows,
                                      float grad_scale);

// The FFN kernels above (plain matmul and SwiGLU loops), for MlpForwardWith / MoeForwardWith.
const FfnKernels& ReferenceFfnKernels();

void MlpForwardReference(float* y, MlpActs* acts, const float* x, const MlpTensors& w, int T, int D,
                         bool accumulate);
void MlpBackwardReference(float* dx, const MlpTensors& gw, const float* dy, const float* x,
                          const MlpActs& acts, const MlpTensors& w, int T, int D);
void MoeForwardReference(float* y, MoeActs* acts, const float* x, const LayerTensors& w,
                         const ModelDims& d, const int* forced, int T);
void MoeBackwardReference(float* dx, const LayerTensors& gw, const float* dy, const float* x,
                          const MoeActs& acts, const LayerTensors& w, const ModelDims& d, int T);

}  // namespace dsarl::model::cpu

#endif  // DSARL_MODEL_CPU_REFERENCE_H_

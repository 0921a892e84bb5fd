// CPU reference ops of the transformer, each forward directly above its backward.
// Conventions (llm.c): outputs first, then inputs, then saved statistics, then sizes. Backward
// functions ADD into gradient buffers (a nullptr gradient is skipped); callers zero them once.
// Matrices are row-major; Linear weights are [out, in] as in PyTorch, so y = x W^T.
// These are the reference every other backend is tested against.
#ifndef DSARL_MODEL_CPU_OPS_H_
#define DSARL_MODEL_CPU_OPS_H_

#include <vector>

namespace dsarl::model::cpu {

// C[M, N] = alpha op(A) op(B) + beta C, row-major (a thin cblas_sgemm wrapper).
void Gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc);

// out[T, N] (=, or += when accumulate) in[T, K] @ W[N, K]^T. Strides are row strides in floats.
void MatmulForward(float* out, const float* in, const float* w, int T, int K, int N,
                   bool accumulate = false, int ld_out = -1, int ld_in = -1);
// din[T, K] += dout[T, N] @ W[N, K];  dw[N, K] += dout^T @ in.
void MatmulBackward(float* din, float* dw, const float* dout, const float* in, const float* w,
                    int T, int K, int N, int ld_dout = -1, int ld_in = -1, int ld_din = -1);

// out[T, C] = in / rms(in) * w;  rstd[T] saved for backward.
void RmsNormForward(float* out, float* rstd, const float* in, const float* w, int T, int C,
                    float eps, int ld_in = -1);
void RmsNormBackward(float* din, float* dw, const float* dout, const float* in, const float* w,
                     const float* rstd, int T, int C, int ld_in = -1, int ld_din = -1);

// Affine LayerNorm: out[T, C] = (in - mean) * rstd * w + b.
void LayerNormForward(float* out, float* mean, float* rstd, const float* in, const float* w,
                      const float* b, int T, int C, float eps);
void LayerNormBackward(float* din, float* dw, float* db, const float* dout, const float* in,
                       const float* w, const float* mean, const float* rstd, int T, int C);

// out[T, F] = silu(g) * u.
void SwiGluForward(float* out, const float* g, const float* u, int T, int F);
void SwiGluBackward(float* dg, float* du, const float* dout, const float* g, const float* u, int T,
                    int F);

// out[T, C] = table[tokens[t]].
void EmbeddingForward(float* out, const int* tokens, const float* table, int T, int C);
void EmbeddingBackward(float* dtable, const float* dout, const int* tokens, int T, int C);

// Rotary tables: cos/sin[pos, rope/2] with DeepSeek's YaRN frequency correction when factor > 1.
struct RopeTable {
  int rope = 0;  // rotated dims
  int max_pos = 0;
  std::vector<float> cos, sin;
};
RopeTable MakeRopeTable(int rope, int max_pos, float theta, float yarn_factor, int original_max_pos,
                        float beta_fast, float beta_slow, float mscale, float mscale_all_dim);

// Rotates, in place, `rope` dims starting at column `col` of each of `heads` vectors per row:
// x[t, h * head_stride + col ...]. Interleaved: pairs (2i, 2i+1) (MLA). Half: pairs (i, i + rope/2)
// (indexer). `inverse` rotates by -angle, which is the backward of the forward rotation.
void RopeInterleaved(float* x, const int* pos, const RopeTable& table, int T, int heads,
                     int row_stride, int head_stride, int col, bool inverse);
void RopeHalf(float* x, const int* pos, const RopeTable& table, int T, int heads, int row_stride,
              int head_stride, int col, bool inverse);

// Log-probability of target[t] under softmax(logits[t]) renormalized over kept[t] (all V when
// kept is null or kept[t] is empty). logp[t] = 0 for target -1. Also the full-vocab entropy[t]
// when entropy != nullptr.
void LogProbForward(float* logp, float* entropy, const float* logits, const int* target,
                    const std::vector<std::vector<int>>* kept, int T, int V);
// dlogits[t] += dlogp[t] * (onehot(target) - softmax over the kept set).
void LogProbBackward(float* dlogits, const float* dlogp, const float* logits, const int* target,
                     const std::vector<std::vector<int>>* kept, int T, int V);

}  // namespace dsarl::model::cpu

#endif  // DSARL_MODEL_CPU_OPS_H_

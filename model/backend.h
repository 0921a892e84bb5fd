// A backend is a table of ops (ggml style): the transformer calls every numerical op through it,
// so another device's implementation slots in by filling the same table. The reference table
// (plain loops, model/cpu/reference.h) is what every other backend is tested against, by one
// op-test harness. Op semantics and shapes are documented where each CPU op is declared
// (model/cpu/*.h).
#ifndef DSARL_MODEL_BACKEND_H_
#define DSARL_MODEL_BACKEND_H_

#include "model/cpu/attention.h"
#include "model/cpu/ffn.h"
#include "model/cpu/indexer.h"
#include "model/cpu/ops.h"

namespace dsarl::model {

struct Backend {
  const char* name;
  decltype(&cpu::Gemm) gemm;
  decltype(&cpu::MatmulForward) matmul_forward_op;
  decltype(&cpu::MatmulBackward) matmul_backward_op;
  decltype(&cpu::RmsNormForward) rmsnorm_forward_op;
  decltype(&cpu::RmsNormBackward) rmsnorm_backward_op;
  decltype(&cpu::LayerNormForward) layernorm_forward;
  decltype(&cpu::LayerNormBackward) layernorm_backward;
  decltype(&cpu::EmbeddingForward) embedding_forward;
  decltype(&cpu::EmbeddingBackward) embedding_backward;
  decltype(&cpu::RopeInterleaved) rope_interleaved;
  decltype(&cpu::RopeHalf) rope_half;
  decltype(&cpu::LogProbForward) logprob_forward;
  decltype(&cpu::LogProbBackward) logprob_backward;
  decltype(&cpu::AttentionForward) attention_forward;
  decltype(&cpu::AttentionBackward) attention_backward;
  decltype(&cpu::AttentionTargetRow) attention_target_row;
  decltype(&cpu::IndexerSelect) indexer_select;
  decltype(&cpu::IndexerLoss) indexer_loss;
  decltype(&cpu::MlpForward) mlp_forward;
  decltype(&cpu::MlpBackward) mlp_backward;
  decltype(&cpu::MoeForward) moe_forward;
  decltype(&cpu::MoeBackward) moe_backward;

  // Function pointers drop default arguments; these restore the ops' defaults (see cpu/ops.h).
  void matmul_forward(float* out, const float* in, const float* w, int T, int K, int N,
                      bool accumulate = false, int ld_out = -1, int ld_in = -1) const {
    matmul_forward_op(out, in, w, T, K, N, accumulate, ld_out, ld_in);
  }
  void matmul_backward(float* din, float* dw, const float* dout, const float* in, const float* w,
                       int T, int K, int N, int ld_dout = -1, int ld_in = -1,
                       int ld_din = -1) const {
    matmul_backward_op(din, dw, dout, in, w, T, K, N, ld_dout, ld_in, ld_din);
  }
  void rmsnorm_forward(float* out, float* rstd, const float* in, const float* w, int T, int C,
                       float eps, int ld_in = -1) const {
    rmsnorm_forward_op(out, rstd, in, w, T, C, eps, ld_in);
  }
  void rmsnorm_backward(float* din, float* dw, const float* dout, const float* in, const float* w,
                        const float* rstd, int T, int C, int ld_in = -1, int ld_din = -1) const {
    rmsnorm_backward_op(din, dw, dout, in, w, rstd, T, C, ld_in, ld_din);
  }
};

// The CPU backend (OpenBLAS, OpenMP, hand-vectorized kernels): what the model runs on a CPU.
const Backend& CpuBackend();

// Plain loops, one element at a time in double, single-threaded (model/cpu/reference.h): the
// reference every backend, the CPU one included, is tested against (tests/model/op_test.cc).
// Too slow to train with.
const Backend& ReferenceBackend();

// Threads the CPU backend uses in this process (OpenMP team and OpenBLAS). n <= 0 keeps the
// default (all hardware threads). Processes that share a machine (a learner beside rollout
// workers) should split the cores: two thread teams spinning on the same cores slow both down.
void SetCpuThreads(int n);
int CpuThreads();

}  // namespace dsarl::model

#endif  // DSARL_MODEL_BACKEND_H_

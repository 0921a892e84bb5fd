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

// Every entry is a plain function pointer named after its op (snake_case of the CPU function).
// Function pointers carry no default arguments, so callers pass every one, the defaults of
// cpu/ops.h included (-1 strides, accumulate = false).
struct Backend {
  const char* name;
  decltype(&cpu::Gemm) gemm;
  decltype(&cpu::MatmulForward) matmul_forward;
  decltype(&cpu::MatmulBackward) matmul_backward;
  decltype(&cpu::RmsNormForward) rmsnorm_forward;
  decltype(&cpu::RmsNormBackward) rmsnorm_backward;
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
};

// The CPU backend (OpenBLAS, OpenMP, hand-vectorized kernels): what the model runs on a CPU.
const Backend& CpuBackend();

// Plain loops, one element at a time in double, single-threaded (model/cpu/reference.h): the
// reference every backend, the CPU one included, is tested against (tests/model/op_test.cc).
// Too slow to train with.
const Backend& ReferenceBackend();

// Threads the CPU backend uses in this process (OpenMP team and OpenBLAS), on every thread: its
// ops apply the count on the thread that calls them, threads started after this call included
// (OpenMP alone keeps the count per thread). n <= 0 keeps the default (all hardware threads).
// Processes that share a machine (a learner beside rollout workers) should split the cores: two
// thread teams spinning on the same cores slow both down. CpuThreads: the count set, else the
// calling thread's OpenMP default.
void SetCpuThreads(int n);
int CpuThreads();

}  // namespace dsarl::model

#endif  // DSARL_MODEL_BACKEND_H_

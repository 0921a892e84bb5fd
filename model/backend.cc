#include "model/backend.h"

#include <cblas.h>
#include <omp.h>

#include <atomic>

#include "model/cpu/reference.h"

namespace dsarl::model {
namespace {

// The count SetCpuThreads chose for the whole process; 0 leaves OpenMP's default. Process-wide
// like the OpenMP runtime it configures. OpenMP keeps its team size per thread, though: a thread
// started after omp_set_num_threads (the learner's training thread in `dsarl run`) gets the
// default, every core, and its team then straggles behind the rollout worker's threads.
std::atomic<int> cpu_threads{0};

// Brings the calling thread's OpenMP team size to cpu_threads, once per thread and change.
void ApplyCpuThreads() {
  thread_local int applied = 0;
  const int n = cpu_threads.load(std::memory_order_relaxed);
  if (n > 0 && n != applied) {
    omp_set_num_threads(n);
    applied = n;
  }
}

// Op, run with the process's thread count on whichever thread calls it.
template <auto Op>
struct OnCpuThreads;
template <typename R, typename... Args, R (*Op)(Args...)>
struct OnCpuThreads<Op> {
  static R Run(Args... args) {
    ApplyCpuThreads();
    return Op(args...);
  }
};

}  // namespace

const Backend& CpuBackend() {
  static const Backend kCpu{
      "cpu",
      OnCpuThreads<cpu::Gemm>::Run,
      OnCpuThreads<cpu::MatmulForward>::Run,
      OnCpuThreads<cpu::MatmulBackward>::Run,
      OnCpuThreads<cpu::RmsNormForward>::Run,
      OnCpuThreads<cpu::RmsNormBackward>::Run,
      OnCpuThreads<cpu::LayerNormForward>::Run,
      OnCpuThreads<cpu::LayerNormBackward>::Run,
      OnCpuThreads<cpu::EmbeddingForward>::Run,
      OnCpuThreads<cpu::EmbeddingBackward>::Run,
      OnCpuThreads<cpu::RopeInterleaved>::Run,
      OnCpuThreads<cpu::RopeHalf>::Run,
      OnCpuThreads<cpu::LogProbForward>::Run,
      OnCpuThreads<cpu::LogProbBackward>::Run,
      OnCpuThreads<cpu::AttentionForward>::Run,
      OnCpuThreads<cpu::AttentionBackward>::Run,
      OnCpuThreads<cpu::AttentionTargetRow>::Run,
      OnCpuThreads<cpu::IndexerSelect>::Run,
      OnCpuThreads<cpu::IndexerLoss>::Run,
      OnCpuThreads<cpu::MlpForward>::Run,
      OnCpuThreads<cpu::MlpBackward>::Run,
      OnCpuThreads<cpu::MoeForward>::Run,
      OnCpuThreads<cpu::MoeBackward>::Run,
  };
  return kCpu;
}

const Backend& ReferenceBackend() {
  static const Backend kReference{
      "reference",
      cpu::GemmReference,
      cpu::MatmulForwardReference,
      cpu::MatmulBackwardReference,
      cpu::RmsNormForwardReference,
      cpu::RmsNormBackwardReference,
      cpu::LayerNormForwardReference,
      cpu::LayerNormBackwardReference,
      cpu::EmbeddingForwardReference,
      cpu::EmbeddingBackwardReference,
      cpu::RopeInterleavedReference,
      cpu::RopeHalfReference,
      cpu::LogProbForwardReference,
      cpu::LogProbBackwardReference,
      cpu::AttentionForwardReference,
      cpu::AttentionBackwardReference,
      cpu::AttentionTargetRowReference,
      cpu::IndexerSelectReference,
      cpu::IndexerLossReference,
      cpu::MlpForwardReference,
      cpu::MlpBackwardReference,
      cpu::MoeForwardReference,
      cpu::MoeBackwardReference,
  };
  return kReference;
}

void SetCpuThreads(int n) {
  if (n <= 0) return;
  cpu_threads.store(n);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int CpuThreads() {
  const int n = cpu_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

}  // namespace dsarl::model

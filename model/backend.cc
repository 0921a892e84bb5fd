#include "model/backend.h"

#include <cblas.h>
#include <omp.h>

#include "model/cpu/reference.h"

namespace dsarl::model {

const Backend& CpuBackend() {
  static const Backend kCpu{
      "cpu",
      cpu::Gemm,
      cpu::MatmulForward,
      cpu::MatmulBackward,
      cpu::RmsNormForward,
      cpu::RmsNormBackward,
      cpu::LayerNormForward,
      cpu::LayerNormBackward,
      cpu::EmbeddingForward,
      cpu::EmbeddingBackward,
      cpu::RopeInterleaved,
      cpu::RopeHalf,
      cpu::LogProbForward,
      cpu::LogProbBackward,
      cpu::AttentionForward,
      cpu::AttentionBackward,
      cpu::AttentionTargetRow,
      cpu::IndexerSelect,
      cpu::IndexerLoss,
      cpu::MlpForward,
      cpu::MlpBackward,
      cpu::MoeForward,
      cpu::MoeBackward,
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
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int CpuThreads() { return omp_get_max_threads(); }

}  // namespace dsarl::model

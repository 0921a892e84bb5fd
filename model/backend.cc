#include "model/backend.h"

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

}  // namespace dsarl::model

// What a model needs in memory to train and to generate, estimated from its sizes before anything
// is allocated, so a job that cannot fit is refused with the numbers instead of dying in
// std::bad_alloc or the OOM killer halfway through a run.
//
// The estimate follows the buffers the CPU code keeps (LayerActs, the decode caches, AdamW's two
// moments) at fp32; it is meant to be within tens of percent, erring high.
#ifndef DSARL_MODEL_MEMORY_ESTIMATE_H_
#define DSARL_MODEL_MEMORY_ESTIMATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "model/dims.h"

namespace dsarl::model {

// Bytes by purpose; doubles so no product of sizes can overflow.
class MemoryEstimate {
 public:
  void Add(std::string what, double bytes);
  void Append(const MemoryEstimate& other, absl::string_view prefix = "");
  double total() const;
  // "parameters 9.0 MiB, gradients 9.0 MiB, ... = 40.1 MiB".
  std::string Describe() const;

 private:
  std::vector<std::pair<std::string, double>> items_;
};

// Weights in fp32.
double ParameterBytes(const ModelDims& d);

// One training process: parameters, gradients, AdamW moments, the weights image sent to workers,
// a reference model when `reference_model`, and the activations kept for backward at
// `batch_tokens` tokens per forward.
MemoryEstimate TrainingMemory(const ModelDims& d, int64_t batch_tokens, bool reference_model);

// One generating process: parameters, the weights image it receives, decode caches of
// `sequences` sequences of up to `context` tokens, and their logits.
MemoryEstimate GenerationMemory(const ModelDims& d, int64_t sequences, int64_t context);

// ResourceExhausted naming `what` when `bytes` exceed the memory this process may use (the
// smallest of physical memory, the cgroup limit and RLIMIT_AS; `limit_bytes` when > 0).
absl::Status CheckFitsInMemory(double bytes, absl::string_view what, int64_t limit_bytes = 0);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_MEMORY_ESTIMATE_H_

// The trainer's check that data-parallel replicas stay equal (Trainer::SyncReplicas).
#include <cstring>

#include "base/status_macros.h"
#include "learner/trainer.h"

namespace dsarl::learner {

namespace {

// The sum of the 32-bit words of `v`: any one changed float changes it.
uint64_t Fingerprint(const float* v, size_t n, uint64_t sum) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t w;
    std::memcpy(&w, v + i, sizeof(w));
    sum += w;
  }
  return sum;
}

}  // namespace

// Every rank applies the same update to the same all-reduced gradient, which keeps replicas equal
// on one CPU model; ranks on different models (AVX-512 beside AVX2) may round an element-wise step
// differently and drift apart unseen. So after each step the replicas are compared, and a drifted
// one takes rank 0's state (one all-reduce of 2 doubles per rank; a broadcast only on drift).
absl::Status Trainer::SyncReplicas(std::vector<int>* resynced) {
  if (comm_ == nullptr || comm_->world_size() == 1) return absl::OkStatus();
  const size_t n = policy_->table().total_floats();
  std::vector<float>& m = adam_->first_moment();
  std::vector<float>& v = adam_->second_moment();
  uint64_t f = Fingerprint(policy_->params(), n, 0);
  f = Fingerprint(m.data(), m.size(), f);
  f = Fingerprint(v.data(), v.size(), f);
  const int world = comm_->world_size();
  std::vector<double> prints(2 * world, 0.0);  // exact: each half below 2^32
  prints[2 * comm_->rank()] = double(f >> 32);
  prints[2 * comm_->rank() + 1] = double(f & 0xffffffffu);
  RETURN_IF_ERROR(comm_->AllReduce(absl::MakeSpan(prints), dist::ReduceOp::kSum));
  for (int r = 1; r < world; ++r) {
    if (prints[2 * r] != prints[0] || prints[2 * r + 1] != prints[1]) resynced->push_back(r);
  }
  if (resynced->empty()) return absl::OkStatus();
  RETURN_IF_ERROR(comm_->Broadcast(absl::MakeSpan(policy_->params(), n), 0));
  RETURN_IF_ERROR(comm_->Broadcast(absl::MakeSpan(m), 0));
  return comm_->Broadcast(absl::MakeSpan(v), 0);
}

}  // namespace dsarl::learner

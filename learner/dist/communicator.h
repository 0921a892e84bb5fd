// The collectives a data-parallel learner needs, behind one interface with a backend per engine:
// Gloo over TCP for CPU ranks (gloo_communicator.h) and NCCL for GPU ranks (nccl_communicator.h),
// and a world of one that does nothing. Every call of every rank must be made in the same order
// with the same sizes; each fails (never hangs) within the communicator's timeout, with an error
// that names the rank that stopped answering when the rendezvous's heartbeats tell which.
#ifndef DSARL_LEARNER_DIST_COMMUNICATOR_H_
#define DSARL_LEARNER_DIST_COMMUNICATOR_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace dsarl::learner::dist {

enum class ReduceOp { kSum, kMean };

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // "local" (a world of one), "gloo" or "nccl".
  virtual std::string backend() const = 0;

  // In place, on every rank: the element-wise sum (or mean) over ranks.
  virtual absl::Status AllReduce(absl::Span<float> data, ReduceOp op) = 0;
  virtual absl::Status AllReduce(absl::Span<double> data, ReduceOp op) = 0;
  // `data` of rank `root` into `data` of every rank (the same size on all).
  virtual absl::Status Broadcast(absl::Span<uint8_t> data, int root) = 0;
  virtual absl::Status Broadcast(absl::Span<float> data, int root) = 0;
  // Every rank's `in` (the same size on all), rank by rank, into `out` (world_size * in.size()).
  virtual absl::Status AllGather(absl::Span<const float> in, absl::Span<float> out) = 0;
  virtual absl::Status Barrier() = 0;

  // After a failed collective: the failure as the rank that caused it, when known (see
  // RankFailure in rendezvous.h); `failure` unchanged otherwise.
  virtual absl::Status Explain(absl::Status failure) { return failure; }
};

// Rank 0 of a world of one: every collective is the identity.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "local"; }
  absl::Status AllReduce(absl::Span<float>, ReduceOp) override { return absl::OkStatus(); }
  absl::Status AllReduce(absl::Span<double>, ReduceOp) override { return absl::OkStatus(); }
  absl::Status Broadcast(absl::Span<uint8_t>, int) override { return absl::OkStatus(); }
  absl::Status Broadcast(absl::Span<float>, int) override { return absl::OkStatus(); }
  absl::Status AllGather(absl::Span<const float> in, absl::Span<float> out) override;
  absl::Status Barrier() override { return absl::OkStatus(); }
};

// All-reduces `data` in buckets of at most `bucket_elems` elements: what a gradient all-reduce
// does so that a large model does not need a second full-size buffer in the backend, and so that
// a backend that overlaps buckets can (NCCL queues them on its stream).
absl::Status BucketedAllReduce(Communicator* comm, absl::Span<float> data, ReduceOp op,
                               size_t bucket_elems = size_t{4} << 20);

}  // namespace dsarl::learner::dist

#endif  // DSARL_LEARNER_DIST_COMMUNICATOR_H_

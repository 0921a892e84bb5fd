// The GPU backend: NCCL, one GPU per rank (the rank's LOCAL_RANK, modulo the GPUs of its host),
// with the unique id handed from rank 0 through the rendezvous store. The communicator is made
// non-blocking so that every collective can be bounded: a call polls the stream and
// ncclCommGetAsyncError, and on an error or at the timeout aborts the communicator
// (ncclCommAbort) and fails with the rank the rendezvous names. Device buffers go straight to
// NCCL (AllReduceDevice); the Communicator interface's host spans are staged through a device
// buffer, for the trainer that still keeps its gradients on the host.
#ifndef DSARL_LEARNER_DIST_NCCL_COMMUNICATOR_H_
#define DSARL_LEARNER_DIST_NCCL_COMMUNICATOR_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "learner/dist/communicator.h"
#include "learner/dist/rendezvous.h"

namespace dsarl::learner::dist {

// True when NCCL is compiled in and this process sees at least one GPU. `why` says otherwise.
bool NcclUsable(std::string* why);

// Connects this rank over NCCL on GPU `local_rank % device count`. FailedPrecondition when
// !NcclUsable; Unavailable naming the rank when the communicator cannot be made in `join`.
// Every collective is then bounded by `timeout`.
absl::StatusOr<std::unique_ptr<Communicator>> ConnectNccl(RendezvousClient* rendezvous,
                                                          int local_rank,
                                                          std::chrono::milliseconds timeout,
                                                          std::chrono::milliseconds join);

// All-reduces `n` floats at device pointer `data` in place, bounded like every collective. The
// communicator must come from ConnectNccl.
absl::Status AllReduceDevice(Communicator* nccl, float* data, size_t n, ReduceOp op);

}  // namespace dsarl::learner::dist

#endif  // DSARL_LEARNER_DIST_NCCL_COMMUNICATOR_H_

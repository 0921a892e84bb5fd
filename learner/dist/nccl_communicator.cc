#include "learner/dist/nccl_communicator.h"

#include "absl/strings/str_cat.h"

#ifdef DSARL_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <thread>
#endif

namespace dsarl::learner::dist {

#ifndef DSARL_HAVE_NCCL

bool NcclUsable(std::string* why) {
  *why = "this dsarl was built without NCCL (no CUDA toolkit with nccl.h was found)";
  return false;
}

absl::StatusOr<std::unique_ptr<Communicator>> ConnectNccl(RendezvousClient*, int,
                                                          std::chrono::milliseconds,
                                                          std::chrono::milliseconds) {
  std::string why;
  NcclUsable(&why);
  return absl::FailedPreconditionError(why);
}

absl::Status AllReduceDevice(Communicator*, float*, size_t, ReduceOp) {
  return absl::FailedPreconditionError("this dsarl was built without NCCL");
}

#else

namespace {

using Clock = std::chrono::steady_clock;

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(RendezvousClient* rdv, ncclComm_t comm, cudaStream_t stream,
                   std::chrono::milliseconds timeout)
      : rdv_(rdv), comm_(comm), stream_(stream), timeout_(timeout) {}
  ~NcclCommunicator() override {
    if (staging_ != nullptr) cudaFree(staging_);
    if (comm_ != nullptr) {
      if (broken_.ok()) {
        ncclCommFinalize(comm_);
        (void)Wait("finalize");
        ncclCommDestroy(comm_);
      } else {
        ncclCommAbort(comm_);
      }
    }
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  int rank() const override { return rdv_->rank(); }
  int world_size() const override { return rdv_->world_size(); }
  std::string backend() const override { return "nccl"; }

  absl::Status AllReduce(absl::Span<float> d, ReduceOp op) override {
    return Staged(d.data(), d.size() * sizeof(float), true, [&](void* dev) {
      return Device(static_cast<float*>(dev), d.size(), ncclFloat, op);
    });
  }
  absl::Status AllReduce(absl::Span<double> d, ReduceOp op) override {
    return Staged(d.data(), d.size() * sizeof(double), true, [&](void* dev) {
      return Device(static_cast<double*>(dev), d.size(), ncclDouble, op);
    });
  }
  absl::Status Broadcast(absl::Span<uint8_t> d, int root) override {
    return Bcast(d.data(), d.size(), root);
  }
  absl::Status Broadcast(absl::Span<float> d, int root) override {
    return Bcast(d.data(), d.size() * sizeof(float), root);
  }
  absl::Status AllGather(absl::Span<const float> in, absl::Span<float> out) override {
    if (out.size() != in.size() * size_t(world_size())) {
      return absl::InvalidArgumentError("all-gather: output is not world_size inputs long");
    }
    const size_t in_bytes = in.size() * sizeof(float);
    return Staged(out.data(), out.size() * sizeof(float), false, [&](void* dev) -> absl::Status {
      char* base = static_cast<char*>(dev);
      char* mine = base + in_bytes * rank();
      if (cudaMemcpyAsync(mine, in.data(), in_bytes, cudaMemcpyHostToDevice, stream_) !=
          cudaSuccess) {
        return absl::InternalError("all-gather: copy to the GPU failed");
      }
      return Call("all-gather", ncclAllGather(mine, base, in.size(), ncclFloat, comm_, stream_));
    });
  }
  absl::Status Barrier() override {
    float one = 1;
    return AllReduce(absl::MakeSpan(&one, 1), ReduceOp::kSum);
  }
  absl::Status Explain(absl::Status failure) override {
    const std::string who = rdv_->StoppedRanks();
    if (who.empty()) return failure;
    return absl::Status(failure.code(), absl::StrCat(who, " (", failure.message(), ")"));
  }

  template <typename T>
  absl::Status Device(T* data, size_t n, ncclDataType_t type, ReduceOp op) {
    if (!broken_.ok()) return broken_;
    return Call("all-reduce",
                ncclAllReduce(data, data, n, type, op == ReduceOp::kMean ? ncclAvg : ncclSum, comm_,
                              stream_));
  }

 private:
  absl::Status Bcast(void* host, size_t bytes, int root) {
    return Staged(host, bytes, true, [&](void* dev) {
      return Call("broadcast", ncclBroadcast(dev, dev, bytes, ncclUint8, root, comm_, stream_));
    });
  }

  // Copies `bytes` of `host` to the staging buffer (when `upload`), runs `op` on it, and copies
  // the result back.
  template <typename F>
  absl::Status Staged(void* host, size_t bytes, bool upload, F&& op) {
    if (!broken_.ok()) return broken_;
    if (bytes == 0) return absl::OkStatus();
    if (bytes > staging_bytes_) {
      if (staging_ != nullptr) cudaFree(staging_);
      staging_ = nullptr;
      if (cudaMalloc(&staging_, bytes) != cudaSuccess) {
        staging_bytes_ = 0;
        return absl::ResourceExhaustedError(
            absl::StrCat("cannot allocate ", bytes, " bytes of GPU memory for NCCL"));
      }
      staging_bytes_ = bytes;
    }
    if (upload &&
        cudaMemcpyAsync(staging_, host, bytes, cudaMemcpyHostToDevice, stream_) != cudaSuccess) {
      return absl::InternalError("NCCL: copy to the GPU failed");
    }
    if (absl::Status s = op(staging_); !s.ok()) return s;
    if (cudaMemcpyAsync(host, staging_, bytes, cudaMemcpyDeviceToHost, stream_) != cudaSuccess) {
      return absl::InternalError("NCCL: copy from the GPU failed");
    }
    return Wait("copy");
  }

  // Issues a collective and waits for it, bounded.
  absl::Status Call(const char* what, ncclResult_t issued) {
    if (issued != ncclSuccess && issued != ncclInProgress) return Fail(what, issued);
    return Wait(what);
  }

  // Polls the stream and NCCL's asynchronous error until the work is done, an error shows, or
  // the timeout passes (then the communicator is aborted).
  absl::Status Wait(const char* what) {
    const auto until = Clock::now() + timeout_;
    while (true) {
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress) return Fail(what, async);
      const cudaError_t q = cudaStreamQuery(stream_);
      if (q == cudaSuccess && async == ncclSuccess) return absl::OkStatus();
      if (q != cudaSuccess && q != cudaErrorNotReady) {
        broken_ = absl::InternalError(
            absl::StrCat("learner rank ", rank(), ": ", what, ": ", cudaGetErrorString(q)));
        return broken_;
      }
      if (Clock::now() >= until) {
        broken_ = Explain(absl::DeadlineExceededError(
            absl::StrCat("learner rank ", rank(), ": NCCL ", what, " did not finish within ",
                         timeout_.count() / 1000.0, " s; the communicator is aborted")));
        return broken_;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  absl::Status Fail(const char* what, ncclResult_t r) {
    broken_ = Explain(absl::UnavailableError(absl::StrCat("learner rank ", rank(), ": NCCL ", what,
                                                          " failed: ", ncclGetErrorString(r), " (",
                                                          ncclGetLastError(comm_), ")")));
    return broken_;
  }

  RendezvousClient* rdv_;
  ncclComm_t comm_;
  cudaStream_t stream_;
  std::chrono::milliseconds timeout_;
  void* staging_ = nullptr;
  size_t staging_bytes_ = 0;
  absl::Status broken_;
};

}  // namespace

bool NcclUsable(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    *why = absl::StrCat("no GPU is visible (",
                        e == cudaSuccess ? "0 devices" : cudaGetErrorString(e), ")");
    return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Communicator>> ConnectNccl(RendezvousClient* rdv, int local_rank,
                                                          std::chrono::milliseconds timeout,
                                                          std::chrono::milliseconds join) {
  std::string why;
  if (!NcclUsable(&why)) return absl::FailedPreconditionError(why);
  int devices = 0;
  cudaGetDeviceCount(&devices);
  if (cudaSetDevice(local_rank % devices) != cudaSuccess) {
    return absl::InternalError(absl::StrCat("cannot select GPU ", local_rank % devices));
  }
  ncclUniqueId id;
  if (rdv->rank() == 0) {
    if (ncclGetUniqueId(&id) != ncclSuccess) return absl::InternalError("ncclGetUniqueId failed");
    if (absl::Status s = rdv->Set("nccl/id", std::string(id.internal, sizeof(id.internal)));
        !s.ok()) {
      return s;
    }
  }
  auto got = rdv->Get({"nccl/id"}, join);
  if (!got.ok()) return got.status();
  if ((*got)[0].size() != sizeof(id.internal)) {
    return absl::DataLossError("the NCCL unique id in the rendezvous store has the wrong size");
  }
  std::copy((*got)[0].begin(), (*got)[0].end(), id.internal);
  rdv->StartHeartbeats();
  cudaStream_t stream = nullptr;
  if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
    return absl::InternalError("cannot create a CUDA stream for NCCL");
  }
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // so that initialization and collectives can be bounded and aborted
  ncclComm_t comm = nullptr;
  ncclResult_t r = ncclCommInitRankConfig(&comm, rdv->world_size(), id, rdv->rank(), &config);
  const auto until = Clock::now() + join;
  while (r == ncclInProgress && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ncclCommGetAsyncError(comm, &r);
  }
  if (r != ncclSuccess) {
    if (comm != nullptr) ncclCommAbort(comm);
    cudaStreamDestroy(stream);
    const std::string who = rdv->StoppedRanks();
    return absl::UnavailableError(absl::StrCat(
        "learner rank ", rdv->rank(),
        ": NCCL communicator not made: ", r == ncclInProgress ? "timed out" : ncclGetErrorString(r),
        who.empty() ? "" : absl::StrCat(" (", who, ")")));
  }
  return std::unique_ptr<Communicator>(new NcclCommunicator(rdv, comm, stream, timeout));
}

absl::Status AllReduceDevice(Communicator* c, float* data, size_t n, ReduceOp op) {
  auto* nccl = dynamic_cast<NcclCommunicator*>(c);
  if (nccl == nullptr) {
    return absl::InvalidArgumentError("AllReduceDevice needs an NCCL communicator");
  }
  return nccl->Device(data, n, ncclFloat, op);
}

#endif  // DSARL_HAVE_NCCL

}  // namespace dsarl::learner::dist

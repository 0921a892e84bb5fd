#include "learner/dist/communicator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace dsarl::learner::dist {

absl::Status LocalCommunicator::AllGather(absl::Span<const float> in, absl::Span<float> out) {
  if (out.size() != in.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("all-gather: output of ", out.size(), " floats for 1 rank of ", in.size()));
  }
  std::copy(in.begin(), in.end(), out.begin());
  return absl::OkStatus();
}

absl::Status BucketedAllReduce(Communicator* comm, absl::Span<float> data, ReduceOp op,
                               size_t bucket_elems) {
  bucket_elems = std::max<size_t>(bucket_elems, 1);
  for (size_t at = 0; at < data.size(); at += bucket_elems) {
    const size_t n = std::min(bucket_elems, data.size() - at);
    if (absl::Status s = comm->AllReduce(data.subspan(at, n), op); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace dsarl::learner::dist

// The worker's side of proto/learner.proto: every call has a deadline; weights arrive as
// checksummed chunks and are verified (each chunk and the whole image) before use.
#ifndef DSARL_ROLLOUT_LEARNER_CLIENT_H_
#define DSARL_ROLLOUT_LEARNER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/learner.grpc.pb.h"

namespace dsarl::rollout {

struct WeightsImage {
  int64_t version = 0;
  std::string blob;
};

class LearnerClient {
 public:
  LearnerClient(std::shared_ptr<grpc::Channel> channel, std::string target, double timeout_s);
  // Channel to HOST:PORT with message limits sized for groups and weights.
  static std::shared_ptr<grpc::Channel> Connect(const std::string& target);

  absl::StatusOr<proto::LeaseResponse> Lease(const std::string& worker, int max_prompts);
  absl::StatusOr<int> ReturnLeases(const std::string& worker, const std::vector<uint64_t>& ids);
  absl::StatusOr<proto::SubmitGroupResponse> Submit(uint64_t lease_id, const proto::Group& group);
  // The current weights. DataLoss when a chunk or the image fails its checksum or the chunks do
  // not tile the image; the deadline covers the whole transfer (timeout x 10).
  absl::StatusOr<WeightsImage> PullWeights(int64_t version = 0);
  absl::StatusOr<proto::StatusResponse> Status();

 private:
  std::unique_ptr<grpc::ClientContext> Context(double scale = 1.0) const;
  std::unique_ptr<proto::Learner::Stub> stub_;
  std::string target_;
  double timeout_s_;
};

}  // namespace dsarl::rollout

#endif  // DSARL_ROLLOUT_LEARNER_CLIENT_H_

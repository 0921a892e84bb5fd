// The worker's side of proto/learner.proto: every call has a deadline; weights arrive as
// checksummed chunks and are verified (each chunk and the whole image) before use. Every call
// carries the worker's call credentials (its token) when it has them; the learner names the worker
// from those credentials (or its client certificate), so no call sends a worker id.
#ifndef DSARL_ROLLOUT_LEARNER_CLIENT_H_
#define DSARL_ROLLOUT_LEARNER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/learner.grpc.pb.h"
#include "proto/rpc_security.h"

namespace dsarl::rollout {

struct WeightsImage {
  int64_t version = 0;
  std::string blob;
};

class LearnerClient {
 public:
  // `credentials` (rpc::MakeCallCredentials; may be null) go with every call.
  LearnerClient(std::shared_ptr<grpc::Channel> channel, std::string target, double timeout_s,
                std::shared_ptr<grpc::CallCredentials> credentials = nullptr);
  // Channel to HOST:PORT with message limits sized for groups and weights, TLS as `security`
  // says. Errors: rpc::MakeChannel's.
  static absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
      const std::string& target, const rpc::ClientSecurity& security = {});

  absl::StatusOr<proto::LeaseResponse> Lease(int max_prompts);
  // How many of `ids` the learner took back (only this worker's own leases are).
  absl::StatusOr<int> ReturnLeases(const std::vector<std::string>& ids);
  absl::StatusOr<proto::SubmitGroupResponse> Submit(const std::string& lease_id,
                                                    const proto::Group& group);
  // The current weights. DataLoss when a chunk or the image fails its checksum or the chunks do
  // not tile the image; the deadline covers the whole transfer (timeout x 10).
  absl::StatusOr<WeightsImage> PullWeights(int64_t version = 0);
  absl::StatusOr<proto::StatusResponse> Status();

 private:
  std::unique_ptr<grpc::ClientContext> Context(double scale = 1.0) const;
  std::unique_ptr<proto::Learner::Stub> stub_;
  std::string target_;
  double timeout_s_;
  std::shared_ptr<grpc::CallCredentials> credentials_;
};

}  // namespace dsarl::rollout

#endif  // DSARL_ROLLOUT_LEARNER_CLIENT_H_

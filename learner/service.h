// The Learner gRPC service (proto/learner.proto): a thin translation between protos and
// LearnerState, on gRPC's callback API. GetWeights streams the published safetensors image in
// checksummed chunks. Every call is authenticated by the server's rpc::ServerAuth (token,
// TLS, mTLS: proto/rpc_security.h), and the caller's identity, not a request field, is the worker
// that leases, submits and returns.
#ifndef DSARL_LEARNER_SERVICE_H_
#define DSARL_LEARNER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "learner/learner_state.h"
#include "proto/learner.grpc.pb.h"
#include "proto/rpc_security.h"

namespace dsarl::learner {

class LearnerService final : public proto::Learner::CallbackService {
 public:
  LearnerService(LearnerState* state, std::shared_ptr<const rpc::ServerAuth> auth)
      : state_(state), auth_(std::move(auth)) {}

  grpc::ServerUnaryReactor* LeasePrompts(grpc::CallbackServerContext* ctx,
                                         const proto::LeaseRequest* req,
                                         proto::LeaseResponse* resp) override;
  grpc::ServerUnaryReactor* ReturnLeases(grpc::CallbackServerContext* ctx,
                                         const proto::ReturnLeasesRequest* req,
                                         proto::ReturnLeasesResponse* resp) override;
  grpc::ServerUnaryReactor* SubmitGroup(grpc::CallbackServerContext* ctx,
                                        const proto::SubmitGroupRequest* req,
                                        proto::SubmitGroupResponse* resp) override;
  grpc::ServerWriteReactor<proto::WeightsChunk>* GetWeights(
      grpc::CallbackServerContext* ctx, const proto::GetWeightsRequest* req) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const proto::StatusRequest* req,
                                      proto::StatusResponse* resp) override;

 private:
  LearnerState* state_;
  std::shared_ptr<const rpc::ServerAuth> auth_;
};

// A running server. `address` may use port 0; port() reports the one bound.
class LearnerServer {
 public:
  // Errors: rpc::ServerAuth::Create's (e.g. FailedPrecondition for an address beyond loopback
  // without TLS and authentication), Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<LearnerServer>> Start(const std::string& address,
                                                              LearnerState* state,
                                                              rpc::ServerSecurity security = {});
  ~LearnerServer();
  int port() const { return port_; }
  // An in-process channel to this server (tests, and the learner's own status probes). Its calls
  // skip the transport's checks, not Identify: with a token they need call credentials.
  std::shared_ptr<grpc::Channel> InProcessChannel();
  void Shutdown();

 private:
  LearnerServer() = default;
  std::unique_ptr<LearnerService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_SERVICE_H_

// The one place where gRPC status and absl::Status convert into each other (codes map 1:1).
#ifndef DSARL_PROTO_GRPC_STATUS_H_
#define DSARL_PROTO_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace dsarl {

grpc::Status ToGrpcStatus(const absl::Status& status);
// `what` names the call for the message, e.g. "Learner.SubmitGroup at 127.0.0.1:5000".
absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& what);

}  // namespace dsarl

#endif  // DSARL_PROTO_GRPC_STATUS_H_

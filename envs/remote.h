// Environments served over gRPC (proto/env.proto, service Environment) by a process in any
// language; examples/remote_env/env_server.py is one in Python.
//
// Every RPC has a deadline (EnvsConfig.call_timeout_s) and a reply may be at most kMaxReplyBytes
// (base/reply_limits.h; plugins have the same bounds). A server that is down, dies mid-episode,
// misses a deadline, answers more than that (ResourceExhausted) or answers garbage (no user
// message, a result count that differs from the call count, a score outside [0, 1]) fails that
// episode with a Status naming the server and the method: an infrastructure error. Other episodes,
// and other environments, go on.
//
// With a token (EnvsConfig.remote_token_file) every call carries "authorization: Bearer TOKEN";
// with EnvsConfig.remote_tls_ca the channel is TLS, verified against that CA (rpc_security.h).
#ifndef DSARL_ENVS_REMOTE_H_
#define DSARL_ENVS_REMOTE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "envs/environment.h"
#include "envs/registry.h"
#include "grpcpp/grpcpp.h"
#include "proto/env.grpc.pb.h"
#include "proto/rpc_security.h"

namespace dsarl::envs {

// A connection to one environment server (one channel, shared by all its environments).
class RemoteServer {
 public:
  // Connects to `address` ("host:port") with `security` and calls Describe. Errors: the channel's
  // (rpc::MakeChannel), Describe's (Unavailable when nothing answers within `timeout`,
  // Unauthenticated when the server wants another token).
  static absl::StatusOr<std::shared_ptr<RemoteServer>> Connect(
      const std::string& address, absl::Duration timeout, const rpc::ClientSecurity& security = {});
  const std::string& address() const { return address_; }
  const proto::DescribeResponse& description() const { return description_; }
  proto::Environment::Stub& stub() const { return *stub_; }
  // Sets the deadline and the call credentials of a call to this server.
  void Prepare(grpc::ClientContext* ctx, absl::Duration timeout) const;

 private:
  RemoteServer() = default;
  std::string address_;
  proto::DescribeResponse description_;
  std::unique_ptr<proto::Environment::Stub> stub_;
  std::shared_ptr<grpc::CallCredentials> credentials_;
};

// The environment `spec` on `server`. No RPC is made until Reset.
std::unique_ptr<Environment> MakeRemoteEnvironment(std::shared_ptr<const RemoteServer> server,
                                                   const proto::EnvSpec& spec,
                                                   absl::Duration call_timeout);

// Registry entries for every category `server` describes: backend "remote:ADDRESS", no
// parameters, the server's ladder top.
std::vector<Category> RemoteCategories(std::shared_ptr<const RemoteServer> server,
                                       absl::Duration call_timeout);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_REMOTE_H_

// The rendezvous of the learner's ranks: a small key-value store served by rank 0 over gRPC
// (authenticated like every dsarl service), which the collective backends rendezvous through
// (Gloo's pair addresses, NCCL's unique id), and a heartbeat each rank sends it twice a second.
// The heartbeats are how a failed collective names its cause: the rank that stopped sending them
// (killed, hung, or its host gone), or rank 0 itself when the store no longer answers.
#ifndef DSARL_LEARNER_DIST_RENDEZVOUS_H_
#define DSARL_LEARNER_DIST_RENDEZVOUS_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/dist.grpc.pb.h"
#include "proto/rpc_security.h"

namespace dsarl::learner::dist {

// The worker-token name of rank `rank`: what its token carries and the server checks.
std::string RankTokenName(int rank);

// Rank 0's store. Bounded: at most kMaxKeys keys of at most kMaxValueBytes each.
class RendezvousServer {
 public:
  static constexpr int kMaxKeys = 1 << 16;
  static constexpr int kMaxValueBytes = 1 << 20;
  // Listens on `address` (port 0 picks one) for a world of `world_size` ranks. Errors:
  // rpc::ServerAuth::Create's, Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RendezvousServer>> Start(const std::string& address,
                                                                 int world_size,
                                                                 rpc::ServerSecurity security);
  ~RendezvousServer();
  int port() const { return port_; }
  // Before rank 0 exits: waits until every other rank has left or gone silent for `stale` (at
  // most `max_wait`), so that a rank still explaining a failure can still ask who stopped.
  void Drain(std::chrono::milliseconds stale, std::chrono::milliseconds max_wait);

 private:
  class Service;
  RendezvousServer() = default;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

struct RendezvousOptions {
  std::chrono::milliseconds timeout{30000};  // of each call, and of the wait for a key
  std::chrono::milliseconds join{300000};    // how long Connect waits for rank 0's store
  std::chrono::milliseconds heartbeat{500};  // interval between heartbeats
  std::chrono::milliseconds stale{2000};     // a rank this long silent has stopped
  rpc::ClientSecurity security;              // this rank's token (RankTokenName)
};

// One rank's view of the store; thread-safe.
class RendezvousClient {
 public:
  // Connects to `target` (host:port) as `rank` of `world_size`, waiting up to options.join
  // for the store to answer (rank 0 may start after the others). Errors: Unavailable naming the
  // target when it never answers, the server's (Unauthenticated for a wrong token).
  static absl::StatusOr<std::unique_ptr<RendezvousClient>> Connect(const std::string& target,
                                                                   int rank, int world_size,
                                                                   RendezvousOptions options);
  ~RendezvousClient();  // stops the heartbeats, telling the store this rank left

  absl::Status Set(const std::string& key, const std::string& value);
  // Waits up to `timeout` for every key. DeadlineExceeded naming the missing keys.
  absl::StatusOr<std::vector<std::string>> Get(const std::vector<std::string>& keys,
                                               std::chrono::milliseconds timeout);

  // Starts the heartbeat thread (once).
  void StartHeartbeats();
  // What stopped the world, for a failed collective: "rank 2 (host h, pid 7) stopped: no
  // heartbeat for 2.3 s" for each silent rank (the longest silent first), or "rank 0 (the
  // rendezvous host) cannot be reached" when the store does not answer; "" when every rank is
  // still alive. Waits up to options.stale so that a rank killed a moment ago shows as stopped.
  std::string StoppedRanks();

  int rank() const { return rank_; }
  int world_size() const { return world_; }
  const RendezvousOptions& options() const { return options_; }

 private:
  RendezvousClient() = default;
  absl::StatusOr<proto::HeartbeatReply> Beat(bool leaving);
  // The silent ranks of `reply`, described; "" when none.
  std::string Silent(const proto::HeartbeatReply& reply) const;

  std::string target_;
  int rank_ = 0, world_ = 1;
  RendezvousOptions options_;
  std::string host_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<proto::Rendezvous::Stub> stub_;
  std::shared_ptr<grpc::CallCredentials> creds_;
  std::thread heartbeats_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace dsarl::learner::dist

#endif  // DSARL_LEARNER_DIST_RENDEZVOUS_H_

// A learner rank's place in the world, joined: rank 0 serves the rendezvous store, every rank
// connects to it, beats, and builds the communicator of its backend (NCCL when asked for GPUs and
// one is usable, Gloo otherwise; a world of one needs neither). One object owns all three, so
// their lifetimes (the communicator explains its failures through the rendezvous client) hold.
#ifndef DSARL_LEARNER_DIST_WORLD_H_
#define DSARL_LEARNER_DIST_WORLD_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "learner/dist/communicator.h"
#include "learner/dist/rank_layout.h"
#include "learner/dist/rendezvous.h"

namespace dsarl::learner::dist {

struct WorldOptions {
  std::chrono::milliseconds timeout{60000};  // every collective and call to the store
  std::chrono::milliseconds join{300000};    // the wait for every rank to start and connect
  bool use_gpu = false;                      // NCCL when a GPU is usable (cluster.use_gpu)
  std::string job_secret;  // the learner's: ranks authenticate to the store with rank tokens
  bool insecure = false;   // let the store listen beyond loopback without a token
  std::string iface;       // GLOO_SOCKET_IFNAME
};

class World {
 public:
  // Errors name the rank and what failed: the store's address, the mesh, the backend.
  static absl::StatusOr<std::unique_ptr<World>> Join(const RankLayout& layout,
                                                     const WorldOptions& options);
  ~World();

  Communicator* comm() { return comm_.get(); }
  const RankLayout& layout() const { return layout_; }
  // "gloo over TCP, 2 ranks" and the like, for logs and `dsarl doctor`.
  std::string Describe() const;

 private:
  World() = default;
  RankLayout layout_;
  std::unique_ptr<RendezvousServer> server_;
  std::unique_ptr<RendezvousClient> client_;
  std::unique_ptr<Communicator> comm_;
};

// The backend `use_gpu` would pick on this machine, and why: for `dsarl doctor` and the logs.
std::string BackendChoice(bool use_gpu, std::string* why);

}  // namespace dsarl::learner::dist

#endif  // DSARL_LEARNER_DIST_WORLD_H_

// The CPU backend: Gloo (Debian's libgloo, the library PyTorch's CPU collectives use) over its TCP
// transport, rendezvoused through rank 0's store (rendezvous.h). Gloo's own errors are exceptions;
// here they end as absl::Status, and a communicator whose collective failed refuses every later
// call with that first error (a Gloo context is not usable after a peer fails).
//
// Gloo's TCP transport carries no authentication or encryption: learner ranks must share a trusted
// network, as torch.distributed's ranks must (docs/training.md, "Clusters").
#ifndef DSARL_LEARNER_DIST_GLOO_COMMUNICATOR_H_
#define DSARL_LEARNER_DIST_GLOO_COMMUNICATOR_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "learner/dist/communicator.h"
#include "learner/dist/rendezvous.h"

namespace dsarl::learner::dist {

struct GlooOptions {
  std::chrono::milliseconds timeout{60000};  // of every collective
  std::chrono::milliseconds join{300000};    // of the mesh's forming (ranks start at their pace)
  // The address this rank's transport listens on and tells the others: the interface named by
  // `iface` (GLOO_SOCKET_IFNAME, as PyTorch reads it) when set, else `hostname` when set, else the
  // source address of the route to `master_addr` (what the others reach this host by).
  std::string iface, hostname, master_addr;
};

// Connects this rank (rendezvous->rank() of rendezvous->world_size()) to the others. The
// rendezvous client must outlive the communicator: failures are explained through its heartbeats.
// Errors: Unavailable naming the peer or the store when the mesh cannot be made in time.
absl::StatusOr<std::unique_ptr<Communicator>> ConnectGloo(RendezvousClient* rendezvous,
                                                          const GlooOptions& options);

// The source address the kernel would use to reach `host` ("127.0.0.1" for loopback).
absl::StatusOr<std::string> RouteSourceAddress(const std::string& host);

}  // namespace dsarl::learner::dist

#endif  // DSARL_LEARNER_DIST_GLOO_COMMUNICATOR_H_

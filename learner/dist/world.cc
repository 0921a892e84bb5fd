#include "learner/dist/world.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "learner/dist/gloo_communicator.h"
#include "learner/dist/nccl_communicator.h"
#include "proto/rpc_security.h"

namespace dsarl::learner::dist {

std::string BackendChoice(bool use_gpu, std::string* why) {
  if (!use_gpu) {
    *why = "cluster.use_gpu is false";
    return "gloo";
  }
  std::string no_gpu;
  if (NcclUsable(&no_gpu)) {
    *why = "a GPU is visible and NCCL is compiled in";
    return "nccl";
  }
  *why = no_gpu;
  return "gloo";
}

absl::StatusOr<std::unique_ptr<World>> World::Join(const RankLayout& layout,
                                                   const WorldOptions& o) {
  std::unique_ptr<World> w(new World());
  w->layout_ = layout;
  if (!layout.distributed()) {
    w->comm_ = std::make_unique<LocalCommunicator>();
    return w;
  }
  const std::string port = absl::StrCat(layout.master_port);
  const std::string target = absl::StrCat(layout.master_addr, ":", port);
  if (layout.rank == 0) {
    // Loopback stays loopback; otherwise the store must be reachable from the other hosts.
    const std::string listen = rpc::IsLoopbackAddress(target) ? target : "0.0.0.0:" + port;
    rpc::ServerSecurity sec;
    sec.job_secret = o.job_secret;
    sec.insecure = o.insecure;
    auto server = RendezvousServer::Start(listen, layout.world_size, sec);
    if (!server.ok()) {
      return absl::Status(server.status().code(),
                          absl::StrCat("learner rank 0: ", server.status().message()));
    }
    w->server_ = std::move(*server);
  }
  RendezvousOptions ro;
  ro.timeout = o.timeout;
  ro.join = o.join;
  if (!o.job_secret.empty()) {
    auto token = rpc::WorkerToken(o.job_secret, RankTokenName(layout.rank));
    if (!token.ok()) return token.status();
    ro.security.token = *token;
  }
  auto client = RendezvousClient::Connect(target, layout.rank, layout.world_size, ro);
  if (!client.ok()) {
    return absl::Status(client.status().code(), absl::StrCat("learner rank ", layout.rank, ": ",
                                                             client.status().message()));
  }
  w->client_ = std::move(*client);
  std::string why;
  absl::StatusOr<std::unique_ptr<Communicator>> comm;
  if (BackendChoice(o.use_gpu, &why) == "nccl") {
    comm = ConnectNccl(w->client_.get(), layout.local_rank, o.timeout, o.join);
  } else {
    GlooOptions go;
    go.timeout = o.timeout;
    go.join = o.join;
    go.iface = o.iface;
    go.master_addr = layout.master_addr;
    comm = ConnectGloo(w->client_.get(), go);
  }
  if (!comm.ok()) return comm.status();
  w->comm_ = std::move(*comm);
  return w;
}

World::~World() {
  comm_.reset();  // before the client its failures are explained through
  const RendezvousOptions o = client_ ? client_->options() : RendezvousOptions{};
  client_.reset();  // says it left, before the store closes
  if (server_) server_->Drain(o.stale, o.stale + o.timeout);
  server_.reset();
}

std::string World::Describe() const {
  if (!layout_.distributed()) return "one rank, no collectives";
  return absl::StrCat(comm_->backend(), ", ", layout_.world_size, " ranks, this is rank ",
                      layout_.rank, " (", layout_.source, ")");
}

}  // namespace dsarl::learner::dist

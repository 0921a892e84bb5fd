#include "learner/dist/gloo_communicator.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "gloo/allgather.h"
#include "gloo/allreduce.h"
#include "gloo/barrier.h"
#include "gloo/broadcast.h"
#include "gloo/math.h"
#include "gloo/rendezvous/context.h"
#include "gloo/rendezvous/prefix_store.h"
#include "gloo/rendezvous/store.h"
#include "gloo/transport/tcp/device.h"

namespace dsarl::learner::dist {
namespace {

// Gloo's store interface on the rendezvous client. Gloo expects exceptions from a store.
class GlooStore final : public gloo::rendezvous::Store {
 public:
  GlooStore(RendezvousClient* client, std::chrono::milliseconds timeout)
      : client_(client), timeout_(timeout) {}
  void set(const std::string& key, const std::vector<char>& data) override {
    absl::Status s = client_->Set(key, std::string(data.begin(), data.end()));
    if (!s.ok()) throw std::runtime_error(std::string(s.message()));
  }
  std::vector<char> get(const std::string& key) override {
    auto v = client_->Get({key}, timeout_);
    if (!v.ok()) throw std::runtime_error(std::string(v.status().message()));
    return std::vector<char>((*v)[0].begin(), (*v)[0].end());
  }
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& t) override {
    auto v = client_->Get(keys, t);
    if (!v.ok()) throw std::runtime_error(std::string(v.status().message()));
  }

 private:
  RendezvousClient* client_;
  std::chrono::milliseconds timeout_;
};

template <typename T>
void SumInto(void* c, const void* a, const void* b, size_t n) {
  gloo::sum<T>(c, a, b, n);
}

class GlooCommunicator final : public Communicator {
 public:
  GlooCommunicator(RendezvousClient* rdv, std::shared_ptr<gloo::rendezvous::Context> ctx,
                   std::chrono::milliseconds timeout)
      : rdv_(rdv), ctx_(std::move(ctx)), timeout_(timeout) {}

  int rank() const override { return ctx_->rank; }
  int world_size() const override { return ctx_->size; }
  std::string backend() const override { return "gloo"; }

  absl::Status AllReduce(absl::Span<float> d, ReduceOp op) override { return Reduce(d, op); }
  absl::Status AllReduce(absl::Span<double> d, ReduceOp op) override { return Reduce(d, op); }
  absl::Status Broadcast(absl::Span<uint8_t> d, int root) override { return Bcast(d, root); }
  absl::Status Broadcast(absl::Span<float> d, int root) override { return Bcast(d, root); }

  absl::Status AllGather(absl::Span<const float> in, absl::Span<float> out) override {
    if (out.size() != in.size() * size_t(world_size())) {
      return absl::InvalidArgumentError(absl::StrCat("all-gather: output of ", out.size(),
                                                     " floats for ", world_size(), " ranks of ",
                                                     in.size()));
    }
    return Run("all-gather", [&] {
      gloo::AllgatherOptions o(ctx_);
      o.setInput(const_cast<float*>(in.data()), in.size());
      o.setOutput(out.data(), out.size());
      o.setTimeout(timeout_);
      o.setTag(NextTag());
      gloo::allgather(o);
    });
  }

  absl::Status Barrier() override {
    return Run("barrier", [&] {
      gloo::BarrierOptions o(ctx_);
      o.setTimeout(timeout_);
      o.setTag(NextTag());
      gloo::barrier(o);
    });
  }

  absl::Status Explain(absl::Status failure) override {
    const std::string who = rdv_->StoppedRanks();
    if (who.empty()) return failure;
    return absl::Status(failure.code(), absl::StrCat(who, " (", failure.message(), ")"));
  }

 private:
  template <typename T>
  absl::Status Reduce(absl::Span<T> d, ReduceOp op) {
    if (d.empty()) return absl::OkStatus();
    absl::Status s = Run("all-reduce", [&] {
      gloo::AllreduceOptions o(ctx_);
      o.setOutput(d.data(), d.size());
      o.setReduceFunction(&SumInto<T>);
      o.setTimeout(timeout_);
      o.setTag(NextTag());
      gloo::allreduce(o);
    });
    if (s.ok() && op == ReduceOp::kMean) {
      for (T& x : d) x /= T(world_size());
    }
    return s;
  }

  template <typename T>
  absl::Status Bcast(absl::Span<T> d, int root) {
    if (root < 0 || root >= world_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("broadcast from rank ", root, " of ", world_size()));
    }
    if (d.empty()) return absl::OkStatus();
    return Run("broadcast", [&] {
      gloo::BroadcastOptions o(ctx_);
      o.setOutput(d.data(), d.size());
      o.setRoot(root);
      o.setTimeout(timeout_);
      o.setTag(NextTag());
      gloo::broadcast(o);
    });
  }

  uint32_t NextTag() { return tag_++; }

  // Runs one Gloo collective; its exception becomes this communicator's lasting error, explained
  // by the rendezvous (which rank stopped).
  template <typename F>
  absl::Status Run(const char* what, F&& f) {
    if (!broken_.ok()) return broken_;
    try {
      f();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      broken_ = Explain(absl::UnavailableError(
          absl::StrCat("learner rank ", rank(), ": ", what, " failed: ", e.what())));
      return broken_;
    }
  }

  RendezvousClient* rdv_;
  std::shared_ptr<gloo::rendezvous::Context> ctx_;
  std::chrono::milliseconds timeout_;
  uint32_t tag_ = 0;
  absl::Status broken_;
};

}  // namespace

absl::StatusOr<std::string> RouteSourceAddress(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), "9", &hints, &res); rc != 0 || res == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve MASTER_ADDR \"", host, "\": ", gai_strerror(rc)));
  }
  std::string out;
  absl::Status err;
  const int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  // A datagram socket's connect sends nothing; it only picks the route and the source address.
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    err = absl::UnavailableError(
        absl::StrCat("no route to MASTER_ADDR \"", host, "\": ", std::strerror(errno)));
  } else {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* a =
        local.ss_family == AF_INET6
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr);
    inet_ntop(local.ss_family, a, buf, sizeof(buf));
    out = buf;
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(res);
  if (!err.ok()) return err;
  return out;
}

absl::StatusOr<std::unique_ptr<Communicator>> ConnectGloo(RendezvousClient* rdv,
                                                          const GlooOptions& options) {
  // Gloo's TCP pairs write without MSG_NOSIGNAL: a write to a peer that just died would kill this
  // rank with SIGPIPE before the collective could fail and name it. Ignored, the write fails with
  // EPIPE and the collective reports it.
  signal(SIGPIPE, SIG_IGN);
  gloo::transport::tcp::attr attr;
  if (!options.iface.empty()) {
    attr.iface = options.iface;
  } else if (!options.hostname.empty()) {
    attr.hostname = options.hostname;
  } else {
    auto src = RouteSourceAddress(options.master_addr.empty() ? "127.0.0.1" : options.master_addr);
    if (!src.ok()) return src.status();
    attr.hostname = *src;
  }
  try {
    auto device = gloo::transport::tcp::CreateDevice(attr);
    auto ctx = std::make_shared<gloo::rendezvous::Context>(rdv->rank(), rdv->world_size());
    ctx->setTimeout(options.join);
    GlooStore store(rdv, options.join);
    gloo::rendezvous::PrefixStore prefixed("gloo", store);
    // Beating from the start, so that a rank that dies while the mesh forms is named too.
    rdv->StartHeartbeats();
    ctx->connectFullMesh(prefixed, device);
    ctx->setTimeout(options.timeout);
    return std::unique_ptr<Communicator>(new GlooCommunicator(rdv, ctx, options.timeout));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("learner rank ", rdv->rank(), " of ",
                                               rdv->world_size(),
                                               ": cannot connect the Gloo mesh: ", e.what()));
  }
}

}  // namespace dsarl::learner::dist

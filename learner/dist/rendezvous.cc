#include "learner/dist/rendezvous.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "proto/grpc_status.h"

namespace dsarl::learner::dist {
namespace {

using Clock = std::chrono::steady_clock;

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "?";
  return buf;
}

}  // namespace

std::string RankTokenName(int rank) { return absl::StrCat("rank-", rank); }

// The store: keys and values, and each rank's last heartbeat.
class RendezvousServer::Service final : public proto::Rendezvous::Service {
 public:
  Service(int world, std::shared_ptr<const rpc::ServerAuth> auth)
      : world_(world), auth_(std::move(auth)), ranks_(world) {}

  void Shutdown() {
    std::lock_guard<std::mutex> l(mu_);
    down_ = true;
    cv_.notify_all();
  }

  // Waits until every rank but 0 has left or gone silent for `stale`, at most `max_wait`.
  void Drain(std::chrono::milliseconds stale, std::chrono::milliseconds max_wait) {
    const auto until = Clock::now() + max_wait;
    std::unique_lock<std::mutex> l(mu_);
    while (Clock::now() < until) {
      bool done = true;
      for (int r = 1; r < world_; ++r) {
        const RankSeen& s = ranks_[r];
        done &= !s.seen || s.left || Clock::now() - s.at >= stale;
      }
      if (done) return;
      cv_.wait_for(l, std::chrono::milliseconds(100));
    }
  }

  grpc::Status Set(grpc::ServerContext* ctx, const proto::RendezvousSetRequest* req,
                   proto::RendezvousSetReply*) override {
    if (auto who = Caller(*ctx); !who.ok()) return ToGrpcStatus(who.status());
    if (req->key().empty() || req->value().size() > size_t(kMaxValueBytes)) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("rendezvous: an empty key or a value over ", kMaxValueBytes, " bytes"));
    }
    std::lock_guard<std::mutex> l(mu_);
    if (values_.size() >= size_t(kMaxKeys) && !values_.count(req->key())) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("rendezvous: more than ", kMaxKeys, " keys"));
    }
    values_[req->key()] = req->value();
    cv_.notify_all();
    return grpc::Status::OK;
  }

  grpc::Status Get(grpc::ServerContext* ctx, const proto::RendezvousGetRequest* req,
                   proto::RendezvousGetReply* reply) override {
    if (auto who = Caller(*ctx); !who.ok()) return ToGrpcStatus(who.status());
    if (req->keys_size() > kMaxKeys) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "rendezvous: too many keys");
    }
    const auto until = Clock::now() + std::chrono::milliseconds(std::clamp<int64_t>(
                                          req->timeout_ms(), 0, int64_t{3600} * 1000));
    std::unique_lock<std::mutex> l(mu_);
    std::vector<std::string> missing;
    while (true) {
      missing.clear();
      for (const std::string& k : req->keys()) {
        if (!values_.count(k)) missing.push_back(k);
      }
      if (missing.empty() || down_ || ctx->IsCancelled() || Clock::now() >= until) break;
      // In slices, so that a cancelled call or a shutdown frees its thread soon.
      cv_.wait_for(l, std::chrono::milliseconds(100));
    }
    if (!missing.empty()) {
      return grpc::Status(
          grpc::StatusCode::DEADLINE_EXCEEDED,
          absl::StrCat("rendezvous: keys not set in time: ", absl::StrJoin(missing, ", ")));
    }
    for (const std::string& k : req->keys()) reply->add_values(values_[k]);
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext* ctx, const proto::HeartbeatRequest* req,
                         proto::HeartbeatReply* reply) override {
    auto who = Caller(*ctx);
    if (!who.ok()) return ToGrpcStatus(who.status());
    if (req->rank() < 0 || req->rank() >= world_ ||
        (auth_->requires_token() && *who != RankTokenName(req->rank()))) {
      return grpc::Status(
          grpc::StatusCode::PERMISSION_DENIED,
          absl::StrCat("rendezvous: ", *who, " cannot beat for rank ", req->rank()));
    }
    std::lock_guard<std::mutex> l(mu_);
    RankSeen& r = ranks_[req->rank()];
    r.seen = true;
    r.at = Clock::now();
    r.host = req->host().substr(0, 255);
    r.pid = req->pid();
    r.left = req->leaving();
    cv_.notify_all();
    for (int i = 0; i < world_; ++i) {
      proto::RankLiveness* out = reply->add_ranks();
      out->set_rank(i);
      out->set_host(ranks_[i].host);
      out->set_pid(ranks_[i].pid);
      out->set_left(ranks_[i].left);
      out->set_ms_since_heartbeat(
          ranks_[i].seen
              ? std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - ranks_[i].at)
                    .count()
              : -1);
    }
    return grpc::Status::OK;
  }

 private:
  struct RankSeen {
    bool seen = false, left = false;
    Clock::time_point at;
    std::string host;
    int pid = 0;
  };

  // The caller's identity; with a token, only a rank of this world may call.
  absl::StatusOr<std::string> Caller(const grpc::ServerContext& ctx) const {
    auto who = auth_->Identify(ctx);
    if (!who.ok() || !auth_->requires_token()) return who;
    int r = -1;
    if (!absl::StartsWith(*who, "rank-") || !absl::SimpleAtoi(who->substr(5), &r) || r < 0 ||
        r >= world_) {
      return absl::PermissionDeniedError(
          absl::StrCat("rendezvous: ", *who, " is not a rank of this ", world_, "-rank world"));
    }
    return who;
  }

  const int world_;
  std::shared_ptr<const rpc::ServerAuth> auth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> values_;
  std::vector<RankSeen> ranks_;
  bool down_ = false;
};

absl::StatusOr<std::unique_ptr<RendezvousServer>> RendezvousServer::Start(
    const std::string& address, int world_size, rpc::ServerSecurity security) {
  auto auth = rpc::ServerAuth::Create(std::move(security), address);
  if (!auth.ok()) return auth.status();
  std::unique_ptr<RendezvousServer> s(new RendezvousServer());
  s->service_ = std::make_unique<Service>(world_size, *auth);
  grpc::ServerBuilder b;
  b.AddListeningPort(address, (*auth)->Credentials(), &s->port_);
  b.RegisterService(s->service_.get());
  b.SetMaxReceiveMessageSize(2 * kMaxValueBytes);
  s->server_ = b.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("rendezvous: cannot listen on ", address, " (MASTER_ADDR:MASTER_PORT)"));
  }
  return s;
}

void RendezvousServer::Drain(std::chrono::milliseconds stale, std::chrono::milliseconds max_wait) {
  service_->Drain(stale, max_wait);
}

RendezvousServer::~RendezvousServer() {
  if (service_) service_->Shutdown();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

absl::StatusOr<std::unique_ptr<RendezvousClient>> RendezvousClient::Connect(
    const std::string& target, int rank, int world_size, RendezvousOptions options) {
  std::unique_ptr<RendezvousClient> c(new RendezvousClient());
  c->target_ = target;
  c->rank_ = rank;
  c->world_ = world_size;
  c->options_ = options;
  c->host_ = HostName();
  // Rank 0 may start after the others: retry the connection every 100 ms to 1 s, not gRPC's
  // default backoff, which grows to minutes.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto channel = rpc::MakeChannel(target, options.security, args);
  if (!channel.ok()) return channel.status();
  c->channel_ = *channel;
  c->stub_ = proto::Rendezvous::NewStub(c->channel_);
  c->creds_ = rpc::MakeCallCredentials(options.security);
  // Rank 0 may not be listening yet: the first heartbeat waits for it.
  const auto until = Clock::now() + options.join;
  absl::Status last;
  while (Clock::now() < until) {
    auto beat = c->Beat(false);
    if (beat.ok()) return c;
    last = beat.status();
    if (!absl::IsUnavailable(last) && !absl::IsDeadlineExceeded(last)) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return absl::UnavailableError(absl::StrCat(
      "rendezvous: rank 0 at ", target, " (MASTER_ADDR:MASTER_PORT) did not answer within ",
      options.join.count() / 1000.0, " s: ", last.message()));
}

RendezvousClient::~RendezvousClient() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (heartbeats_.joinable()) heartbeats_.join();
  if (stub_) (void)Beat(true);
}

absl::StatusOr<proto::HeartbeatReply> RendezvousClient::Beat(bool leaving) {
  grpc::ClientContext ctx;
  rpc::Attach(&ctx, creds_);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  proto::HeartbeatRequest req;
  req.set_rank(rank_);
  req.set_host(host_);
  req.set_pid(getpid());
  req.set_leaving(leaving);
  proto::HeartbeatReply reply;
  grpc::Status s = stub_->Heartbeat(&ctx, req, &reply);
  if (!s.ok()) return FromGrpcStatus(s, "rendezvous heartbeat");
  return reply;
}

absl::Status RendezvousClient::Set(const std::string& key, const std::string& value) {
  grpc::ClientContext ctx;
  rpc::Attach(&ctx, creds_);
  ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  proto::RendezvousSetRequest req;
  req.set_key(key);
  req.set_value(value);
  proto::RendezvousSetReply reply;
  return FromGrpcStatus(stub_->Set(&ctx, req, &reply), "rendezvous set " + key);
}

absl::StatusOr<std::vector<std::string>> RendezvousClient::Get(const std::vector<std::string>& keys,
                                                               std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  rpc::Attach(&ctx, creds_);
  ctx.set_deadline(std::chrono::system_clock::now() + timeout + std::chrono::seconds(2));
  proto::RendezvousGetRequest req;
  for (const std::string& k : keys) req.add_keys(k);
  req.set_timeout_ms(timeout.count());
  proto::RendezvousGetReply reply;
  if (absl::Status s = FromGrpcStatus(stub_->Get(&ctx, req, &reply), "rendezvous get"); !s.ok()) {
    return s;
  }
  return std::vector<std::string>(reply.values().begin(), reply.values().end());
}

void RendezvousClient::StartHeartbeats() {
  std::lock_guard<std::mutex> l(mu_);
  if (heartbeats_.joinable() || stopping_) return;
  heartbeats_ = std::thread([this] {
    std::unique_lock<std::mutex> l(mu_);
    while (!stopping_) {
      l.unlock();
      (void)Beat(false);  // a missed beat is what the others notice; nothing to do here
      l.lock();
      cv_.wait_for(l, options_.heartbeat, [this] { return stopping_; });
    }
  });
}

std::string RendezvousClient::Silent(const proto::HeartbeatReply& reply) const {
  std::vector<const proto::RankLiveness*> silent;
  for (const proto::RankLiveness& r : reply.ranks()) {
    if (r.rank() == rank_) continue;
    if (r.left() || r.ms_since_heartbeat() < 0 ||
        r.ms_since_heartbeat() >= options_.stale.count()) {
      silent.push_back(&r);
    }
  }
  std::sort(silent.begin(), silent.end(),
            [](auto* a, auto* b) { return a->ms_since_heartbeat() > b->ms_since_heartbeat(); });
  std::vector<std::string> parts;
  for (const proto::RankLiveness* r : silent) {
    if (r->ms_since_heartbeat() < 0) {
      parts.push_back(absl::StrCat("rank ", r->rank(), " never joined"));
    } else {
      parts.push_back(absl::StrFormat("rank %d (host %s, pid %d) %s %.1f s ago", r->rank(),
                                      r->host(), r->pid(),
                                      r->left() ? "left the job" : "stopped: last heartbeat",
                                      r->ms_since_heartbeat() / 1000.0));
    }
  }
  return absl::StrJoin(parts, "; ");
}

std::string RendezvousClient::StoppedRanks() {
  const auto until = Clock::now() + options_.stale + options_.heartbeat;
  while (true) {
    auto reply = Beat(false);
    if (!reply.ok()) {
      return absl::StrCat("rank 0 (the rendezvous host, ", target_,
                          ") cannot be reached: ", reply.status().message());
    }
    std::string silent = Silent(*reply);
    if (!silent.empty() || Clock::now() >= until) return silent;
    std::this_thread::sleep_for(options_.heartbeat);
  }
}

}  // namespace dsarl::learner::dist

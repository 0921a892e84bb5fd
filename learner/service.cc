#include "learner/service.h"

#include "absl/strings/str_cat.h"
#include "learner/weights.h"
#include "proto/grpc_status.h"

namespace dsarl::learner {
namespace {

// Streams one weights image in chunks (learner/weights.h).
class WeightsWriter : public grpc::ServerWriteReactor<proto::WeightsChunk> {
 public:
  WeightsWriter(std::shared_ptr<const PublishedWeights> w, uint32_t chunk)
      : w_(std::move(w)), chunk_size_(chunk), count_(WeightsChunkCount(*w_, chunk)) {
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (index_ >= count_) {
      Finish(grpc::Status::OK);
      return;
    }
    msg_ = WeightsChunkAt(*w_, index_++, chunk_size_);
    StartWrite(&msg_);
  }
  std::shared_ptr<const PublishedWeights> w_;
  uint32_t chunk_size_;
  size_t count_;
  size_t index_ = 0;
  proto::WeightsChunk msg_;
};

// Refuses a stream (e.g. unauthenticated, or a version that is gone).
class FailedWrite : public grpc::ServerWriteReactor<proto::WeightsChunk> {
 public:
  explicit FailedWrite(grpc::Status s) { Finish(s); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* LearnerService::LeasePrompts(grpc::CallbackServerContext* ctx,
                                                       const proto::LeaseRequest* req,
                                                       proto::LeaseResponse* resp) {
  auto* r = ctx->DefaultReactor();
  auto who = auth_->Identify(*ctx);
  if (!who.ok()) {
    r->Finish(ToGrpcStatus(who.status()));
    return r;
  }
  auto out = state_->Lease(*who, req->max_prompts());
  if (out.ok()) *resp = std::move(*out);
  r->Finish(ToGrpcStatus(out.status()));
  return r;
}

grpc::ServerUnaryReactor* LearnerService::ReturnLeases(grpc::CallbackServerContext* ctx,
                                                       const proto::ReturnLeasesRequest* req,
                                                       proto::ReturnLeasesResponse* resp) {
  auto* r = ctx->DefaultReactor();
  auto who = auth_->Identify(*ctx);
  if (!who.ok()) {
    r->Finish(ToGrpcStatus(who.status()));
    return r;
  }
  resp->set_returned(state_->ReturnLeases(
      *who, std::vector<std::string>(req->lease_ids().begin(), req->lease_ids().end())));
  r->Finish(grpc::Status::OK);
  return r;
}

grpc::ServerUnaryReactor* LearnerService::SubmitGroup(grpc::CallbackServerContext* ctx,
                                                      const proto::SubmitGroupRequest* req,
                                                      proto::SubmitGroupResponse* resp) {
  auto* r = ctx->DefaultReactor();
  auto who = auth_->Identify(*ctx);
  if (!who.ok()) {
    r->Finish(ToGrpcStatus(who.status()));
    return r;
  }
  auto out = state_->Submit(*who, req->lease_id(), req->group());
  if (out.ok()) *resp = std::move(*out);
  r->Finish(ToGrpcStatus(out.status()));
  return r;
}

grpc::ServerWriteReactor<proto::WeightsChunk>* LearnerService::GetWeights(
    grpc::CallbackServerContext* ctx, const proto::GetWeightsRequest* req) {
  if (auto who = auth_->Identify(*ctx); !who.ok())
    return new FailedWrite(ToGrpcStatus(who.status()));
  auto w = state_->Weights();
  if (req->version() != 0 && req->version() != w->version) {
    // Only the current version is kept; the client asks again for it.
    return new FailedWrite(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("version ", req->version(), " is gone; current is ", w->version)));
  }
  return new WeightsWriter(std::move(w), WeightsChunkBytes(req->chunk_bytes()));
}

grpc::ServerUnaryReactor* LearnerService::GetStatus(grpc::CallbackServerContext* ctx,
                                                    const proto::StatusRequest*,
                                                    proto::StatusResponse* resp) {
  auto* r = ctx->DefaultReactor();
  if (auto who = auth_->Identify(*ctx); !who.ok()) {
    r->Finish(ToGrpcStatus(who.status()));
    return r;
  }
  *resp = state_->Status();
  r->Finish(grpc::Status::OK);
  return r;
}

absl::StatusOr<std::unique_ptr<LearnerServer>> LearnerServer::Start(const std::string& address,
                                                                    LearnerState* state,
                                                                    rpc::ServerSecurity security) {
  auto auth = rpc::ServerAuth::Create(std::move(security), address);
  if (!auth.ok()) return auth.status();
  std::unique_ptr<LearnerServer> s(new LearnerServer());
  s->service_ = std::make_unique<LearnerService>(state, *auth);
  grpc::ServerBuilder b;
  b.AddListeningPort(address, (*auth)->Credentials(), &s->port_);
  b.RegisterService(s->service_.get());
  b.SetMaxSendMessageSize(64 << 20);
  b.SetMaxReceiveMessageSize(256 << 20);  // a group of long trajectories
  s->server_ = b.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  return s;
}

LearnerServer::~LearnerServer() { Shutdown(); }

std::shared_ptr<grpc::Channel> LearnerServer::InProcessChannel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  return server_->InProcessChannel(args);
}

void LearnerServer::Shutdown() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
  }
}

}  // namespace dsarl::learner

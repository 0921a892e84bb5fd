#include "rollout/learner_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/crc32c.h"
#include "proto/grpc_status.h"

namespace dsarl::rollout {

LearnerClient::LearnerClient(std::shared_ptr<grpc::Channel> channel, std::string target,
                             double timeout_s, std::shared_ptr<grpc::CallCredentials> credentials)
    : stub_(proto::Learner::NewStub(std::move(channel))),
      target_(std::move(target)),
      timeout_s_(timeout_s),
      credentials_(std::move(credentials)) {}

absl::StatusOr<std::shared_ptr<grpc::Channel>> LearnerClient::Connect(
    const std::string& target, const rpc::ClientSecurity& security) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  return rpc::MakeChannel(target, security, args);
}

std::unique_ptr<grpc::ClientContext> LearnerClient::Context(double scale) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(int64_t(timeout_s_ * scale * 1000)));
  rpc::Attach(ctx.get(), credentials_);
  return ctx;
}

absl::StatusOr<proto::LeaseResponse> LearnerClient::Lease(int n) {
  proto::LeaseRequest req;
  req.set_max_prompts(n);
  proto::LeaseResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->LeasePrompts(ctx.get(), req, &resp);
  if (!s.ok()) return FromGrpcStatus(s, absl::StrCat("Learner.LeasePrompts at ", target_));
  return resp;
}

absl::StatusOr<int> LearnerClient::ReturnLeases(const std::vector<std::string>& ids) {
  proto::ReturnLeasesRequest req;
  for (const std::string& id : ids) req.add_lease_ids(id);
  proto::ReturnLeasesResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->ReturnLeases(ctx.get(), req, &resp);
  if (!s.ok()) return FromGrpcStatus(s, absl::StrCat("Learner.ReturnLeases at ", target_));
  return resp.returned();
}

absl::StatusOr<proto::SubmitGroupResponse> LearnerClient::Submit(const std::string& lease_id,
                                                                 const proto::Group& group) {
  proto::SubmitGroupRequest req;
  req.set_lease_id(lease_id);
  *req.mutable_group() = group;
  proto::SubmitGroupResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->SubmitGroup(ctx.get(), req, &resp);
  if (!s.ok()) return FromGrpcStatus(s, absl::StrCat("Learner.SubmitGroup at ", target_));
  return resp;
}

absl::StatusOr<WeightsImage> LearnerClient::PullWeights(int64_t version) {
  proto::GetWeightsRequest req;
  req.set_version(version);
  auto ctx = Context(10.0);
  auto reader = stub_->GetWeights(ctx.get(), req);
  WeightsImage out;
  proto::WeightsChunk chunk;
  uint64_t total = 0;
  uint32_t blob_crc = 0;
  bool first = true;
  while (reader->Read(&chunk)) {
    if (first) {
      out.version = chunk.version();
      total = chunk.total_bytes();
      blob_crc = chunk.blob_crc32c();
      out.blob.reserve(total);
      first = false;
    }
    if (chunk.version() != out.version || chunk.offset() != out.blob.size() ||
        chunk.total_bytes() != total || chunk.blob_crc32c() != blob_crc) {
      ctx->TryCancel();
      return absl::DataLossError(absl::StrCat("weights from ", target_, ": chunk at offset ",
                                              chunk.offset(), " does not continue the image"));
    }
    if (Crc32c(chunk.data()) != chunk.crc32c()) {
      ctx->TryCancel();
      return absl::DataLossError(absl::StrCat("weights from ", target_, ": chunk at offset ",
                                              chunk.offset(), " failed its checksum"));
    }
    out.blob.append(chunk.data());
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpcStatus(s, absl::StrCat("Learner.GetWeights at ", target_));
  if (out.blob.size() != total || Crc32c(out.blob) != blob_crc) {
    return absl::DataLossError(absl::StrCat("weights from ", target_, ": image of ",
                                            out.blob.size(), " bytes failed its checksum"));
  }
  return out;
}

absl::StatusOr<proto::StatusResponse> LearnerClient::Status() {
  proto::StatusResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->GetStatus(ctx.get(), proto::StatusRequest(), &resp);
  if (!s.ok()) return FromGrpcStatus(s, absl::StrCat("Learner.GetStatus at ", target_));
  return resp;
}

}  // namespace dsarl::rollout

// The gRPC reward client (see remote.h).
#include "rewards/remote.h"

#include <atomic>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/reply_limits.h"
#include "grpcpp/grpcpp.h"
#include "proto/chat_proto.h"
#include "proto/grpc_status.h"
#include "proto/reward.grpc.pb.h"

namespace dsarl::rewards {
namespace {

class RemoteReward : public RewardFunction {
 public:
  RemoteReward(RemoteOptions options, std::vector<std::unique_ptr<proto::Reward::Stub>> stubs)
      : options_(std::move(options)),
        stubs_(std::move(stubs)),
        credentials_(rpc::MakeCallCredentials(options_.security)) {}

  absl::StatusOr<std::vector<Components>> ScoreGroup(
      const proto::Prompt& task, absl::Span<const Sample> samples) const override {
    const proto::ScoreRequest request = MakeScoreRequest(task, samples);
    const size_t k = next_.fetch_add(1, std::memory_order_relaxed) % stubs_.size();
    const std::string& address = options_.addresses[k];
    proto::ScoreResponse response;
    grpc::Status status;
    {
      options_.limit->Acquire();
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           absl::ToChronoNanoseconds(options_.timeout));
      rpc::Attach(&context, credentials_);
      status = stubs_[k]->Score(&context, request, &response);
      options_.limit->Release();
    }
    const std::string where = absl::StrFormat("remote reward %s (timeout %gs)", address,
                                              absl::ToDoubleSeconds(options_.timeout));
    if (!status.ok()) return FromGrpcStatus(status, where);
    absl::StatusOr<std::vector<Components>> out = ParseScoreResponse(response, samples.size());
    if (!out.ok()) return absl::InternalError(absl::StrCat(where, ": ", out.status().message()));
    return out;
  }

 private:
  RemoteOptions options_;
  std::vector<std::unique_ptr<proto::Reward::Stub>> stubs_;
  std::shared_ptr<grpc::CallCredentials> credentials_;
  mutable std::atomic<size_t> next_{0};
};

}  // namespace

ConcurrencyLimit::ConcurrencyLimit(int max_in_flight) : max_(std::max(1, max_in_flight)) {}

void ConcurrencyLimit::Acquire() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](ConcurrencyLimit* self)
           ABSL_NO_THREAD_SAFETY_ANALYSIS { return self->in_flight_ < self->max_; },
      this));
  ++in_flight_;
  peak_ = std::max(peak_, in_flight_);
}

void ConcurrencyLimit::Release() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

int ConcurrencyLimit::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

int ConcurrencyLimit::peak_in_flight() const {
  absl::MutexLock lock(&mu_);
  return peak_;
}

absl::StatusOr<std::unique_ptr<RewardFunction>> NewRemoteReward(RemoteOptions options) {
  if (options.addresses.empty()) {
    return absl::InvalidArgumentError(
        "remote reward: no address (set params.address or "
        "rewards.remote_addresses)");
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("remote reward: the timeout must be positive");
  }
  if (options.limit == nullptr) {
    return absl::InvalidArgumentError("remote reward: no concurrency limit");
  }
  std::vector<std::unique_ptr<proto::Reward::Stub>> stubs;
  for (const std::string& address : options.addresses) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(kMaxReplyBytes));  // what a plugin may emit
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        rpc::MakeChannel(address, options.security, args);
    if (!channel.ok()) return channel.status();
    stubs.push_back(proto::Reward::NewStub(*channel));
  }
  return std::make_unique<RemoteReward>(std::move(options), std::move(stubs));
}

proto::ScoreRequest MakeScoreRequest(const proto::Prompt& task, absl::Span<const Sample> samples) {
  proto::ScoreRequest request;
  *request.mutable_prompt() = task;
  for (const Sample& s : samples) {
    proto::ScoredSample* out = request.add_samples();
    for (const Message& m : s.messages) *out->add_messages() = MessageToProto(m);
    out->set_final_answer(s.final_answer);
    out->set_num_generated_tokens(s.num_generated_tokens);
    out->set_finish_reason(s.finish_reason);
  }
  return request;
}

absl::StatusOr<std::vector<Components>> ParseScoreResponse(const proto::ScoreResponse& response,
                                                           size_t num_samples) {
  if (static_cast<size_t>(response.scores_size()) != num_samples) {
    return absl::InternalError(absl::StrCat("the server returned ", response.scores_size(),
                                            " score(s) for ", num_samples, " sample(s)"));
  }
  std::vector<Components> out(num_samples);
  for (size_t i = 0; i < num_samples; ++i) {
    for (const proto::RewardComponent& c : response.scores(i).components()) {
      if (!c.applicable() && c.value() != 0) {
        return absl::InternalError(
            absl::StrCat("sample ", i, " component '", c.name(), "' has value ", c.value(),
                         " but applicable = false (proto3's default): set applicable = true"));
      }
      out[i].push_back(Component{.name = c.name(),
                                 .value = c.value(),
                                 .applicable = c.applicable(),
                                 .details = c.details()});
    }
  }
  return out;
}

}  // namespace dsarl::rewards

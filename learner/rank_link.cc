#include "learner/rank_link.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "model/checkpoint.h"
#include "model/tokenizer_config.h"

namespace dsarl::learner {

void ToRankGroups(const std::vector<TrainGroup>& batch, proto::RankControl* out) {
  for (const TrainGroup& g : batch) {
    proto::RankGroup* pg = out->add_groups();
    for (const TrainSample& s : g.samples) {
      proto::RankSample* ps = pg->add_samples();
      ps->mutable_tokens()->Add(s.tokens.begin(), s.tokens.end());
      ps->mutable_loss_mask()->Add(s.loss_mask.begin(), s.loss_mask.end());
      ps->mutable_behaviour_logprobs()->Add(s.behaviour_logprobs.begin(),
                                            s.behaviour_logprobs.end());
      for (const std::vector<int>& k : s.kept) {
        ps->add_kept()->mutable_ids()->Add(k.begin(), k.end());
      }
      ps->mutable_routed_experts()->Add(s.routed_experts.begin(), s.routed_experts.end());
    }
    pg->mutable_rewards()->Add(g.rewards.begin(), g.rewards.end());
  }
}

absl::StatusOr<std::vector<TrainGroup>> FromRankGroups(const proto::RankControl& in) {
  std::vector<TrainGroup> out;
  for (int gi = 0; gi < in.groups_size(); ++gi) {
    const proto::RankGroup& pg = in.groups(gi);
    if (pg.rewards_size() != pg.samples_size()) {
      return absl::InvalidArgumentError(absl::StrCat("rank message: group ", gi, " has ",
                                                     pg.samples_size(), " samples and ",
                                                     pg.rewards_size(), " rewards"));
    }
    TrainGroup g;
    g.rewards.assign(pg.rewards().begin(), pg.rewards().end());
    for (int si = 0; si < pg.samples_size(); ++si) {
      const proto::RankSample& ps = pg.samples(si);
      TrainSample s;
      s.tokens.assign(ps.tokens().begin(), ps.tokens().end());
      s.loss_mask.assign(ps.loss_mask().begin(), ps.loss_mask().end());
      s.behaviour_logprobs.assign(ps.behaviour_logprobs().begin(), ps.behaviour_logprobs().end());
      for (const auto& k : ps.kept()) s.kept.emplace_back(k.ids().begin(), k.ids().end());
      s.routed_experts.assign(ps.routed_experts().begin(), ps.routed_experts().end());
      if (s.loss_mask.size() != s.tokens.size() || s.behaviour_logprobs.size() != s.tokens.size() ||
          (!s.kept.empty() && s.kept.size() != s.tokens.size())) {
        return absl::InvalidArgumentError(absl::StrCat("rank message: group ", gi, " sample ", si,
                                                       " has vectors of different lengths"));
      }
      g.samples.push_back(std::move(s));
    }
    out.push_back(std::move(g));
  }
  return out;
}

absl::Status RankLink::Send(const proto::RankControl& m) {
  std::string bytes;
  if (!m.SerializeToString(&bytes)) return absl::InternalError("rank message: cannot serialize");
  uint64_t n = bytes.size();
  uint8_t header[8];
  std::memcpy(header, &n, sizeof(n));
  RETURN_IF_ERROR(comm_->Broadcast(absl::MakeSpan(header, 8), 0));
  RETURN_IF_ERROR(
      comm_->Broadcast(absl::MakeSpan(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size()), 0));
  last_sent_ = std::chrono::steady_clock::now();
  return absl::OkStatus();
}

absl::StatusOr<proto::RankControl> RankLink::Receive() {
  uint8_t header[8] = {};
  RETURN_IF_ERROR(comm_->Broadcast(absl::MakeSpan(header, 8), 0));
  uint64_t n = 0;
  std::memcpy(&n, header, sizeof(n));
  if (n > (uint64_t{1} << 31)) {
    return absl::DataLossError(absl::StrCat("rank message of ", n, " bytes from rank 0"));
  }
  std::string bytes(n, '\0');
  RETURN_IF_ERROR(
      comm_->Broadcast(absl::MakeSpan(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size()), 0));
  proto::RankControl m;
  if (!m.ParseFromString(bytes)) return absl::DataLossError("rank message from rank 0 unreadable");
  return m;
}

absl::Status RankLink::SendStep(int64_t step, const std::vector<TrainGroup>& batch) {
  proto::RankControl m;
  m.set_kind(proto::RankControl::STEP);
  m.set_step(step);
  ToRankGroups(batch, &m);
  return Send(m);
}

absl::Status RankLink::SendState(int64_t step) {
  proto::RankControl m;
  m.set_kind(proto::RankControl::STATE);
  m.set_step(step);
  return Send(m);
}

absl::Status RankLink::MaybeKeepAlive(int64_t step) {
  if (std::chrono::steady_clock::now() - last_sent_ < keepalive_) return absl::OkStatus();
  proto::RankControl m;
  m.set_kind(proto::RankControl::KEEPALIVE);
  m.set_step(step);
  return Send(m);
}

absl::Status RankLink::SendStop(const std::string& reason, bool failed) {
  proto::RankControl m;
  m.set_kind(proto::RankControl::STOP);
  m.set_reason(reason);
  m.set_failed(failed);
  return Send(m);
}

absl::Status RankLink::BroadcastFloats(float* data, size_t floats, const char* what) {
  // Every rank's size (exact in a double), so that a rank built from another model fails here,
  // on every rank and by name, instead of corrupting its weights.
  std::vector<double> sizes(comm_->world_size(), 0.0);
  sizes[comm_->rank()] = double(floats);
  RETURN_IF_ERROR(comm_->AllReduce(absl::MakeSpan(sizes), dist::ReduceOp::kSum));
  for (int r = 1; r < comm_->world_size(); ++r) {
    if (sizes[r] != sizes[0]) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": rank ", r, " has ", int64_t(sizes[r]), " floats, rank 0 has ",
                       int64_t(sizes[0]), " (every rank must run the same model config)"));
    }
  }
  return comm_->Broadcast(absl::MakeSpan(data, floats), 0);
}

absl::Status RankLink::SyncState(model::Transformer* policy, model::Transformer* reference,
                                 Trainer* trainer) {
  const size_t n = policy->table().total_floats();
  RETURN_IF_ERROR(BroadcastFloats(policy->params(), n, "policy weights"));
  if (reference != nullptr) {
    RETURN_IF_ERROR(BroadcastFloats(reference->params(), n, "reference weights"));
  }
  AdamW& adam = trainer->optimizer();
  RETURN_IF_ERROR(
      BroadcastFloats(adam.first_moment().data(), adam.first_moment().size(), "optimizer moments"));
  RETURN_IF_ERROR(BroadcastFloats(adam.second_moment().data(), adam.second_moment().size(),
                                  "optimizer moments"));
  double steps[2] = {double(adam.steps()), double(trainer->step())};
  RETURN_IF_ERROR(
      comm_->Broadcast(absl::MakeSpan(reinterpret_cast<uint8_t*>(steps), sizeof(steps)), 0));
  adam.set_steps(int64_t(steps[0]));
  trainer->set_step(int64_t(steps[1]));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<model::Transformer>> InitialModel(const proto::JobConfig& c) {
  ASSIGN_OR_RETURN(const model::Tokenizer tok, model::TokenizerForModel(c.model()));
  RETURN_IF_ERROR(model::RequireByteTokenizer(tok, "the learner"));
  RETURN_IF_ERROR(model::RequireSpecChatFormat(c.model(), "the learner"));
  if (!c.model().checkpoint().empty()) return model::LoadCheckpoint(c.model().checkpoint());
  ASSIGN_OR_RETURN(model::ModelDims dims, model::DimsFromConfig(c.model()));
  auto m = std::make_unique<model::Transformer>(dims);
  m->InitRandom(c.seed());
  return m;
}

TrainerOptions LearnerTrainerOptions(const proto::JobConfig& c) {
  TrainerOptions to = TrainerOptionsFromConfig(c);
  const int mb = std::max(1, c.learner().minibatches_per_step());
  to.lr.total_steps = c.learner().total_steps() * mb;
  to.lr.warmup_steps = c.learner().warmup_steps() * mb;
  return to;
}

absl::Status RunFollowerRank(const proto::JobConfig& c, dist::Communicator* comm,
                             const std::function<void(const std::string&)>& progress) {
  ASSIGN_OR_RETURN(std::unique_ptr<model::Transformer> policy, InitialModel(c));
  std::unique_ptr<model::Transformer> reference;
  if (c.learner().kl_coef() > 0) {
    ASSIGN_OR_RETURN(reference, InitialModel(c));
  }
  model::Transformer* ref = reference.get();
  Trainer trainer(policy.get(), std::move(reference), LearnerTrainerOptions(c));
  trainer.set_communicator(comm);
  RankLink link(comm, std::chrono::milliseconds(0));
  while (true) {
    absl::StatusOr<proto::RankControl> m = link.Receive();
    if (!m.ok()) return comm->Explain(m.status());
    switch (m->kind()) {
      case proto::RankControl::STATE:
        RETURN_IF_ERROR(link.SyncState(policy.get(), ref, &trainer));
        break;
      case proto::RankControl::STEP: {
        ASSIGN_OR_RETURN(std::vector<TrainGroup> batch, FromRankGroups(*m));
        ASSIGN_OR_RETURN(StepReport r, trainer.GrpoStep(batch));
        progress(absl::StrCat("rank ", comm->rank(), ": step ", m->step(), " trained ", r.tokens,
                              " tokens over all ranks"));
        break;
      }
      case proto::RankControl::KEEPALIVE:
        break;
      case proto::RankControl::STOP:
        if (m->failed()) {
          return absl::AbortedError(absl::StrCat("rank 0 failed: ", m->reason()));
        }
        DSARL_LOG_INFO("learner rank {}: rank 0 says stop: {}", comm->rank(), m->reason());
        return absl::OkStatus();
      default:
        return absl::DataLossError(absl::StrCat("rank message of unknown kind ", m->kind()));
    }
  }
}

}  // namespace dsarl::learner

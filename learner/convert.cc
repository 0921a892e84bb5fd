#include "learner/convert.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace dsarl::learner {

absl::StatusOr<TrainSample> ToTrainSample(const proto::Trajectory& t, const model::ModelDims& d) {
  const std::string who = absl::StrCat("prompt ", t.prompt_id(), " sample ", t.sample_index());
  const int n = t.token_ids_size();
  if (t.loss_mask_size() != n || t.behaviour_logprobs_size() != n) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": ", n, " tokens, ", t.loss_mask_size(),
                                                   " mask entries, ", t.behaviour_logprobs_size(),
                                                   " log-probs"));
  }
  TrainSample s;
  s.tokens.assign(t.token_ids().begin(), t.token_ids().end());
  s.loss_mask.assign(t.loss_mask().begin(), t.loss_mask().end());
  s.behaviour_logprobs.assign(t.behaviour_logprobs().begin(), t.behaviour_logprobs().end());
  if (t.kept_sets_size() > 0) {
    if (t.kept_sets_size() != n) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": ", t.kept_sets_size(), " kept sets"));
    }
    s.kept.resize(n);
    for (int i = 0; i < n; ++i)
      s.kept[i].assign(t.kept_sets(i).ids().begin(), t.kept_sets(i).ids().end());
  }
  const int M = d.n_moe_layers(), K = d.experts_per_tok;
  if (t.routed_experts_size() > 0) {
    if (t.routed_experts_size() != n * M) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": ", t.routed_experts_size(),
                                                     " routed-expert records, expected ", n * M));
    }
    for (const auto& r : t.routed_experts()) {
      if (r.experts_size() != K) {
        return absl::InvalidArgumentError(absl::StrCat(who, ": a routed-expert record has ",
                                                       r.experts_size(), " experts, expected ", K));
      }
      s.routed_experts.insert(s.routed_experts.end(), r.experts().begin(), r.experts().end());
    }
  }
  return s;
}

absl::StatusOr<std::optional<TrainGroup>> ToTrainGroup(const proto::Group& g,
                                                       const model::ModelDims& d,
                                                       ConvertStats* stats) {
  TrainGroup tg;
  for (const proto::Trajectory& t : g.trajectories()) {
    if (!t.infra_error().empty() || t.finish_reason() == proto::FINISH_INFRA_ERROR) {
      ++stats->infra_errors;
      continue;
    }
    ASSIGN_OR_RETURN(TrainSample s, ToTrainSample(t, d));
    tg.samples.push_back(std::move(s));
    tg.rewards.push_back(t.reward());
  }
  if (tg.samples.size() < 2) {
    ++stats->groups_dropped;
    return std::nullopt;
  }
  return tg;
}

absl::StatusOr<std::vector<TrainGroup>> ToTrainGroups(const std::vector<proto::Group>& groups,
                                                      const model::ModelDims& d,
                                                      ConvertStats* stats) {
  std::vector<TrainGroup> out;
  for (const proto::Group& g : groups) {
    ASSIGN_OR_RETURN(std::optional<TrainGroup> tg, ToTrainGroup(g, d, stats));
    if (tg.has_value()) out.push_back(std::move(*tg));
  }
  return out;
}

}  // namespace dsarl::learner

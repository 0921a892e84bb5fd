// The intake checks of learner/intake.h: sizes first (O(1) per array), then the byte cap, then one
// pass over every value.
#include "learner/intake.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace dsarl::learner {
namespace {

std::string Where(int i, const char* field) {
  return absl::StrCat("trajectories[", i, "].", field);
}

absl::Status Bad(int i, const char* field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(Where(i, field), ": ", what));
}

bool IsInfra(const proto::Trajectory& t) {
  return !t.infra_error().empty() || t.finish_reason() == proto::FINISH_INFRA_ERROR;
}

absl::Status CheckLength(int i, const char* field, int size, int want, const char* unit) {
  if (size == want) return absl::OkStatus();
  return Bad(i, field, absl::StrCat(size, " entries for ", want, " ", unit));
}

// The group's shape: G trajectories, each sample index once, the group's prompt.
absl::Status CheckMembers(const proto::Group& g, const IntakeLimits& lim) {
  const int n = g.trajectories_size();
  if (n == 0) return absl::InvalidArgumentError("trajectories: the group has none");
  if (lim.group_size > 0 && n != lim.group_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("trajectories: ", n, " trajectories, the group size is ", lim.group_size));
  }
  std::vector<bool> seen(n, false);
  for (int i = 0; i < n; ++i) {
    const proto::Trajectory& t = g.trajectories(i);
    if (t.prompt_id() != 0 && t.prompt_id() != g.prompt_id()) {
      return Bad(i, "prompt_id", absl::StrCat(t.prompt_id(), ", the group's is ", g.prompt_id()));
    }
    const int s = t.sample_index();
    if (s < 0 || s >= n || seen[s]) {
      return Bad(i, "sample_index", absl::StrCat(s, ": must be 0..", n - 1, " once each"));
    }
    seen[s] = true;
  }
  return absl::OkStatus();
}

// Array lengths of trajectory i: O(1) per array, before anything reads the values.
absl::Status CheckShape(const proto::Trajectory& t, int i, const IntakeLimits& lim) {
  const int n = t.token_ids_size();
  if (n < 2 && !IsInfra(t)) {
    return Bad(i, "token_ids", absl::StrCat(n, " tokens; a sample needs a context and a token"));
  }
  if (lim.context > 0 && n > lim.context) {
    return Bad(i, "token_ids", absl::StrCat(n, " tokens, more than the context of ", lim.context));
  }
  RETURN_IF_ERROR(CheckLength(i, "loss_mask", t.loss_mask_size(), n, "tokens"));
  RETURN_IF_ERROR(CheckLength(i, "behaviour_logprobs", t.behaviour_logprobs_size(), n, "tokens"));
  RETURN_IF_ERROR(CheckLength(i, "policy_versions", t.policy_versions_size(), n, "tokens"));
  if (t.kept_sets_size() != 0) {
    RETURN_IF_ERROR(CheckLength(i, "kept_sets", t.kept_sets_size(), n, "tokens"));
  }
  if (lim.vocab > 0) {
    // Index token * moe_layers + layer; a dense model records none.
    const int64_t want = int64_t{n} * lim.moe_layers;
    if (t.routed_experts_size() != want) {
      return Bad(i, "routed_experts",
                 absl::StrCat(t.routed_experts_size(), " records for ", n, " tokens x ",
                              lim.moe_layers, " MoE layers"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTokens(const proto::Trajectory& t, int i, const IntakeLimits& lim) {
  const int n = t.token_ids_size();
  int policy = 0;
  for (int k = 0; k < n; ++k) {
    const int id = t.token_ids(k);
    if (id < 0 || (lim.vocab > 0 && id >= lim.vocab)) {
      return Bad(i, "token_ids",
                 absl::StrCat("token ", id, " at ", k, " outside [0, ", lim.vocab, ")"));
    }
    const int m = t.loss_mask(k);
    if (m != 0 && m != 1) return Bad(i, "loss_mask", absl::StrCat(m, " at ", k, "; must be 0/1"));
    policy += m;
    const float lp = t.behaviour_logprobs(k);
    if (!std::isfinite(lp) || lp > 0) {
      return Bad(i, "behaviour_logprobs", absl::StrCat(lp, " at ", k, "; must be finite, <= 0"));
    }
    const int64_t v = t.policy_versions(k);
    if (v < 0) return Bad(i, "policy_versions", absl::StrCat(v, " at ", k, "; must be >= 0"));
    if (lim.max_policy_version.has_value() && v > *lim.max_policy_version) {
      return Bad(
          i, "policy_versions",
          absl::StrCat(v, " at ", k, ", newer than the learner's ", *lim.max_policy_version));
    }
  }
  if (n > 0 && t.loss_mask(0) != 0) {
    return Bad(i, "loss_mask", "1 at 0; the first token has no context and cannot be scored");
  }
  if (policy == 0 && !IsInfra(t)) return Bad(i, "loss_mask", "no policy token (all 0)");
  return absl::OkStatus();
}

absl::Status CheckKeptSets(const proto::Trajectory& t, int i, const IntakeLimits& lim) {
  for (int k = 0; k < t.kept_sets_size(); ++k) {
    const auto& ids = t.kept_sets(k).ids();
    if (ids.empty()) continue;  // the full vocabulary
    if (lim.vocab > 0 && ids.size() > lim.vocab) {
      return Bad(i, "kept_sets", absl::StrCat(ids.size(), " ids at ", k, ", more than the vocab"));
    }
    for (int id : ids) {
      if (id < 0 || (lim.vocab > 0 && id >= lim.vocab)) {
        return Bad(i, "kept_sets", absl::StrCat("id ", id, " at ", k, " outside the vocabulary"));
      }
    }
    if (t.loss_mask(k) && std::find(ids.begin(), ids.end(), t.token_ids(k)) == ids.end()) {
      return Bad(i, "kept_sets",
                 absl::StrCat("the set at ", k, " lacks its sampled token ", t.token_ids(k)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckExperts(const proto::Trajectory& t, int i, const IntakeLimits& lim) {
  if (lim.vocab == 0) return absl::OkStatus();  // no model to check against
  for (int r = 0; r < t.routed_experts_size(); ++r) {
    const auto& e = t.routed_experts(r).experts();
    if (e.size() != lim.experts_per_token) {
      return Bad(i, "routed_experts",
                 absl::StrCat("record ", r, " has ", e.size(), " experts, the model routes to ",
                              lim.experts_per_token));
    }
    for (int a = 0; a < e.size(); ++a) {
      if (e[a] < 0 || e[a] >= lim.n_routed_experts || std::count(e.begin(), e.begin() + a, e[a])) {
        return Bad(i, "routed_experts",
                   absl::StrCat("record ", r, ": expert ", e[a], " repeated or outside [0, ",
                                lim.n_routed_experts, ")"));
      }
    }
  }
  return absl::OkStatus();
}

bool InBounds(double v, const IntakeLimits& lim) {
  return std::isfinite(v) && v >= lim.min_reward && v <= lim.max_reward;
}

absl::Status CheckRewards(const proto::Trajectory& t, int i, const IntakeLimits& lim) {
  const std::string bounds =
      absl::StrCat("; must be finite, in [", lim.min_reward, ", ", lim.max_reward, "]");
  if (!InBounds(t.reward(), lim)) return Bad(i, "reward", absl::StrCat(t.reward(), bounds));
  for (int c = 0; c < t.reward_components_size(); ++c) {
    const proto::RewardComponent& rc = t.reward_components(c);
    if (!InBounds(rc.value(), lim) || !std::isfinite(rc.weight())) {
      return Bad(i, "reward_components",
                 absl::StrCat("[", c, "] ", rc.name(), " value ", rc.value(), " weight ",
                              rc.weight(), bounds));
    }
  }
  return absl::OkStatus();
}

}  // namespace

IntakeLimits IntakeLimitsFromConfig(const proto::JobConfig& c, const model::ModelDims& d) {
  IntakeLimits lim;
  lim.group_size = c.rollout().group_size();
  lim.vocab = d.vocab;
  lim.context = d.max_pos;
  lim.moe_layers = d.n_moe_layers();
  lim.experts_per_token = d.experts_per_tok;
  lim.n_routed_experts = d.n_routed;
  lim.min_reward = c.learner().min_reward();
  lim.max_reward = c.learner().max_reward();
  lim.max_group_bytes = uint64_t(c.learner().max_group_mb()) << 20;
  lim.max_quarantined_per_worker = c.learner().max_quarantined_per_worker();
  return lim;
}

absl::Status CheckGroup(const proto::Group& g, const IntakeLimits& lim) {
  RETURN_IF_ERROR(CheckMembers(g, lim));
  for (int i = 0; i < g.trajectories_size(); ++i) {
    RETURN_IF_ERROR(CheckShape(g.trajectories(i), i, lim));
  }
  const uint64_t bytes = g.ByteSizeLong();
  if (bytes > lim.max_group_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("group: ", bytes,
                                                   " bytes, more than the cap of ",
                                                   lim.max_group_bytes, " (learner.max_group_mb)"));
  }
  for (int i = 0; i < g.trajectories_size(); ++i) {
    const proto::Trajectory& t = g.trajectories(i);
    RETURN_IF_ERROR(CheckTokens(t, i, lim));
    RETURN_IF_ERROR(CheckKeptSets(t, i, lim));
    RETURN_IF_ERROR(CheckExperts(t, i, lim));
    RETURN_IF_ERROR(CheckRewards(t, i, lim));
  }
  return absl::OkStatus();
}

proto::QuarantinedGroup MakeQuarantineRecord(proto::Group group, const std::string& reason,
                                             const std::string& source, int64_t unix_ms) {
  proto::QuarantinedGroup q;
  q.set_reason(reason);
  q.set_source(source);
  q.set_unix_ms(unix_ms);
  q.set_group_bytes(group.ByteSizeLong());
  if (q.group_bytes() > kQuarantineMaxGroupBytes) {
    group.set_num_trajectories(group.trajectories_size());
    group.clear_trajectories();
    q.set_trajectories_dropped(true);
  }
  *q.mutable_group() = std::move(group);
  return q;
}

}  // namespace dsarl::learner

#include "learner/grpo.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace dsarl::learner {

GrpoConfig GrpoConfigFromProto(const proto::LearnerConfig& c) {
  GrpoConfig g;
  g.eps_low = c.eps_low();
  g.eps_high = c.eps_high();
  g.beta = c.kl_coef();
  switch (c.kl_estimator()) {
    case proto::LearnerConfig::K1:
      g.kl = KlEstimator::kK1;
      break;
    case proto::LearnerConfig::K2:
      g.kl = KlEstimator::kK2;
      break;
    case proto::LearnerConfig::K3:
      g.kl = KlEstimator::kK3;
      break;
    default:
      g.kl = KlEstimator::kUnbiasedK3;
      break;
  }
  g.delta = c.offpolicy_delta();
  g.offpolicy_mask = c.offpolicy_mask();
  g.std_norm = c.advantage_std_norm();
  switch (c.loss_aggregation()) {
    case proto::LearnerConfig::TOKEN_SUM:
      g.aggregation = LossAggregation::kTokenSum;
      break;
    case proto::LearnerConfig::GLOBAL_TOKEN_MEAN:
      g.aggregation = LossAggregation::kGlobalTokenMean;
      break;
    default:
      g.aggregation = LossAggregation::kSequenceMean;
      break;
  }
  return g;
}

std::vector<double> Advantages(const std::vector<double>& r, bool std_norm) {
  double mean = 0;
  for (double x : r) mean += x;
  mean /= std::max<size_t>(r.size(), 1);
  double var = 0;
  for (double x : r) var += (x - mean) * (x - mean);
  const double sd = r.size() > 1 ? std::sqrt(var / (r.size() - 1)) : 0.0;
  std::vector<double> a(r.size());
  for (size_t i = 0; i < r.size(); ++i) a[i] = std_norm ? (r[i] - mean) / (sd + 1e-6) : r[i] - mean;
  return a;
}

void KlTerm(KlEstimator kl, double lp, double lp_old, double lp_ref, double* value, double* grad) {
  const double d = lp_ref - lp;  // log(pi_ref / pi_theta)
  switch (kl) {
    case KlEstimator::kK1:
      *value = -d;
      *grad = 1.0;
      return;
    case KlEstimator::kK2:
      *value = 0.5 * d * d;
      *grad = -d;
      return;
    case KlEstimator::kK3:
      *value = std::exp(d) - d - 1.0;
      *grad = 1.0 - std::exp(d);
      return;
    case KlEstimator::kUnbiasedK3: {
      // r * k3 with r = pi_theta / pi_old; d/dlp = r * (lp - lp_ref) (SPEC §3).
      const double r = std::exp(lp - lp_old);
      *value = r * (std::exp(d) - d - 1.0);
      *grad = r * (lp - lp_ref);
      return;
    }
  }
}

double SequenceWeight(LossAggregation aggregation, int group_size, int len, int n_groups,
                      int64_t total_tokens) {
  switch (aggregation) {
    case LossAggregation::kSequenceMean:
      return len > 0 ? 1.0 / (double(group_size) * len * n_groups) : 0.0;
    case LossAggregation::kTokenSum:
      return 1.0 / (double(group_size) * n_groups);
    case LossAggregation::kGlobalTokenMean:
      return total_tokens > 0 ? 1.0 / total_tokens : 0.0;
  }
  return 0.0;
}

SequenceTerms SequenceObjective(const GrpoSequence& s, double A, double w, const GrpoConfig& c,
                                std::vector<float>* dlogp) {
  SequenceTerms out;
  const size_t n = s.mask.size();
  dlogp->assign(n, 0.0f);
  double mean_k1 = 0;  // mean_t (logp_old - logp): k1 estimate of KL(pi_old || pi_theta)
  for (size_t t = 0; t < n; ++t) {
    if (!s.mask[t]) continue;
    ++out.tokens;
    mean_k1 += s.logp_old[t] - s.logp[t];
  }
  if (out.tokens > 0) mean_k1 /= out.tokens;
  out.kept = !(c.offpolicy_mask && A < 0 && mean_k1 > c.delta);
  for (size_t t = 0; t < n; ++t) {
    if (!s.mask[t]) continue;
    const double lp = s.logp[t], lo = s.logp_old[t];
    const double r = std::exp(lp - lo);
    const double rc = std::clamp(r, 1.0 - c.eps_low, 1.0 + c.eps_high);
    const double unclipped = r * A, clip = rc * A;
    // min(rA, clip(r)A): the unclipped branch carries the gradient r*A; the clipped branch,
    // where it is strictly smaller, is constant in logp.
    const bool use_unclipped = unclipped <= clip;
    const double surr = use_unclipped ? unclipped : clip;
    const double dsurr = use_unclipped ? unclipped : 0.0;
    out.clipped += !use_unclipped;
    double kl = 0, dkl = 0;
    if (c.beta > 0) KlTerm(c.kl, lp, lo, s.logp_ref[t], &kl, &dkl);
    out.kl_sum += kl;
    out.log_ratio_sum += lp - lo;
    // The mask multiplies the surrogate only, never the KL (SPEC §3).
    out.objective += w * ((out.kept ? surr : 0.0) - c.beta * kl);
    (*dlogp)[t] = static_cast<float>(-w * ((out.kept ? dsurr : 0.0) - c.beta * dkl));
  }
  return out;
}

namespace {

bool LengthsMatch(const GrpoSequence& s, const GrpoConfig& c) {
  const size_t n = s.mask.size();
  return s.logp_old.size() == n && s.logp.size() == n && !(c.beta > 0 && s.logp_ref.size() != n);
}

}  // namespace

absl::Status CheckSequence(const GrpoSequence& s, const GrpoConfig& c, size_t g, size_t i) {
  if (!LengthsMatch(s, c)) {
    return absl::InvalidArgumentError(absl::StrCat("grpo: group ", g, " sequence ", i,
                                                   ": log-prob lengths differ from the mask"));
  }
  for (size_t t = 0; t < s.mask.size(); ++t) {
    if (!s.mask[t]) continue;
    if (!std::isfinite(s.logp_old[t]) || !std::isfinite(s.logp[t]) ||
        (c.beta > 0 && !std::isfinite(s.logp_ref[t]))) {
      return absl::InvalidArgumentError(
          absl::StrCat("grpo: group ", g, " sequence ", i, " token ", t, ": non-finite log-prob"));
    }
  }
  return absl::OkStatus();
}

int GrpoAccumulator::AddGroup(const std::vector<double>& rewards) {
  bool equal = true;
  for (double r : rewards) equal &= r == rewards[0];
  all_equal_ += equal;
  groups_.push_back(Group{rewards, Advantages(rewards, config_.std_norm)});
  return groups_.size() - 1;
}

SequenceTerms GrpoAccumulator::AddSequence(int g, int i, const GrpoSequence& s,
                                           const GrpoNorm& norm, std::vector<float>* dlogp) {
  if (absl::Status check = CheckSequence(s, config_, g, i); !check.ok() && error_.ok()) {
    error_ = check;
  }
  if (!LengthsMatch(s, config_)) {
    dlogp->assign(s.mask.size(), 0.0f);
    return SequenceTerms{};
  }
  const Group& grp = groups_[g];
  int len = 0;
  for (int m : s.mask) len += m != 0;
  const double A = grp.advantages[i];
  const double w =
      SequenceWeight(config_.aggregation, grp.rewards.size(), len, norm.groups, norm.tokens);
  const SequenceTerms t = SequenceObjective(s, A, w, config_, dlogp);
  masked_ += !t.kept;
  clipped_ += t.clipped;
  kl_sum_ += t.kl_sum;
  ratio_sum_ += t.log_ratio_sum;
  reward_sum_ += grp.rewards[i];
  reward_sq_ += grp.rewards[i] * grp.rewards[i];
  adv_sq_ += A * A;
  length_sum_ += len;
  tokens_ += t.tokens;
  ++sequences_;
  return t;
}

absl::StatusOr<GrpoStats> GrpoAccumulator::Stats() const {
  if (!error_.ok()) return error_;
  GrpoStats st;
  st.groups = groups_.size();
  st.sequences = sequences_;
  st.tokens = tokens_;
  if (groups_.empty()) return st;
  const double ns = std::max<int64_t>(sequences_, 1), nt = std::max<int64_t>(tokens_, 1);
  st.reward_mean = reward_sum_ / ns;
  st.reward_std = std::sqrt(std::max(0.0, reward_sq_ / ns - st.reward_mean * st.reward_mean));
  st.advantage_std = std::sqrt(adv_sq_ / ns);
  st.frac_groups_all_equal = double(all_equal_) / groups_.size();
  st.clip_fraction = clipped_ / nt;
  st.masked_fraction = masked_ / ns;
  st.kl = kl_sum_ / nt;
  st.mean_log_ratio = ratio_sum_ / nt;
  st.mean_length = length_sum_ / ns;
  return st;
}

std::vector<double> GrpoAccumulator::SequenceSums() const {
  return {double(masked_),
          double(clipped_),
          kl_sum_,
          ratio_sum_,
          reward_sum_,
          reward_sq_,
          adv_sq_,
          length_sum_,
          double(tokens_),
          double(sequences_),
          error_.ok() ? 0.0 : 1.0};
}

void GrpoAccumulator::SetSequenceSums(const std::vector<double>& s) {
  if (s.size() != 11) return;
  masked_ = std::llround(s[0]);
  clipped_ = std::llround(s[1]);
  kl_sum_ = s[2];
  ratio_sum_ = s[3];
  reward_sum_ = s[4];
  reward_sq_ = s[5];
  adv_sq_ = s[6];
  length_sum_ = s[7];
  tokens_ = std::llround(s[8]);
  sequences_ = std::llround(s[9]);
  if (s[10] > 0 && error_.ok()) {
    error_ = absl::InvalidArgumentError("grpo: a sequence on another learner rank is malformed");
  }
}

absl::StatusOr<GrpoResult> ComputeGrpo(const std::vector<GrpoGroup>& batch, const GrpoConfig& c) {
  // Everything is checked before anything is computed, and the normalizer counts every token.
  GrpoNorm norm{static_cast<int>(batch.size()), 0};
  for (size_t g = 0; g < batch.size(); ++g) {
    const GrpoGroup& grp = batch[g];
    if (grp.seqs.empty() || grp.rewards.size() != grp.seqs.size()) {
      return absl::InvalidArgumentError(absl::StrCat("grpo: group ", g, " has ", grp.seqs.size(),
                                                     " sequences and ", grp.rewards.size(),
                                                     " rewards"));
    }
    for (size_t i = 0; i < grp.seqs.size(); ++i) {
      RETURN_IF_ERROR(CheckSequence(grp.seqs[i], c, g, i));
      for (int m : grp.seqs[i].mask) norm.tokens += m != 0;
    }
  }
  GrpoResult out;
  if (batch.empty()) return out;
  GrpoAccumulator acc(c);
  double J = 0;
  out.dlogp.resize(batch.size());
  out.advantages.resize(batch.size());
  out.seq_mask.resize(batch.size());
  for (size_t g = 0; g < batch.size(); ++g) {
    const GrpoGroup& grp = batch[g];
    const int G = grp.seqs.size();
    acc.AddGroup(grp.rewards);
    out.advantages[g] = acc.advantages(g);
    out.dlogp[g].resize(G);
    out.seq_mask[g].resize(G);
    for (int i = 0; i < G; ++i) {
      const SequenceTerms t = acc.AddSequence(g, i, grp.seqs[i], norm, &out.dlogp[g][i]);
      out.seq_mask[g][i] = t.kept;
      J += t.objective;
    }
  }
  out.loss = -J;
  ASSIGN_OR_RETURN(out.stats, acc.Stats());
  return out;
}

}  // namespace dsarl::learner

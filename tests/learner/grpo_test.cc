// The modified GRPO of SPEC §3: hand-computed cases, d(loss)/d(logp) against finite differences
// for every option, and the off-policy mask exactly as specified.
#include "learner/grpo.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

GrpoSequence Seq(std::vector<float> lp, std::vector<float> old, std::vector<float> ref = {}) {
  GrpoSequence s;
  s.mask.assign(lp.size(), 1);
  s.logp = lp;
  s.logp_old = old;
  s.logp_ref = ref.empty() ? old : ref;
  return s;
}

TEST(Grpo, HandComputedOnPolicyCase) {
  GrpoConfig c;
  c.beta = 0;
  GrpoGroup g{{1.0, 0.0}, {Seq({-1, -2}, {-1, -2}), Seq({-0.5, -0.5}, {-0.5, -0.5})}};
  ASSERT_OK_AND_ASSIGN(GrpoResult r, ComputeGrpo({g}, c));
  EXPECT_DOUBLE_EQ(r.advantages[0][0], 0.5);
  EXPECT_DOUBLE_EQ(r.advantages[0][1], -0.5);
  // J = 1/2 [ 1/2 (0.5 + 0.5) + 1/2 (-0.5 - 0.5) ] = 0; dloss/dlogp = -(1/(G |o|)) r A.
  EXPECT_NEAR(r.loss, 0.0, 1e-12);
  EXPECT_FLOAT_EQ(r.dlogp[0][0][0], -0.125f);
  EXPECT_FLOAT_EQ(r.dlogp[0][1][1], 0.125f);
  EXPECT_DOUBLE_EQ(r.stats.reward_mean, 0.5);
  EXPECT_DOUBLE_EQ(r.stats.clip_fraction, 0.0);
}

TEST(Grpo, ClippingStopsTheGradientOnlyOnTheClippedSide) {
  GrpoConfig c;
  c.beta = 0;
  c.offpolicy_mask = false;
  // ratio e^0.5 = 1.65 > 1.2 with A > 0: clipped, no gradient. Same ratio with A < 0: unclipped.
  GrpoGroup g{{1.0, 0.0}, {Seq({-1.0f}, {-1.5f}), Seq({-1.0f}, {-1.5f})}};
  ASSERT_OK_AND_ASSIGN(GrpoResult r, ComputeGrpo({g}, c));
  EXPECT_EQ(r.dlogp[0][0][0], 0.0f);
  EXPECT_NEAR(r.dlogp[0][1][0], -0.5 * (-0.5) * std::exp(0.5), 1e-6);
  EXPECT_DOUBLE_EQ(r.stats.clip_fraction, 0.5);
  // J = 1/2 [ 1.2 * 0.5 + e^0.5 * (-0.5) ]
  EXPECT_NEAR(r.loss, -0.5 * (1.2 * 0.5 - std::exp(0.5) * 0.5), 1e-6);
}

TEST(Grpo, OffPolicyMaskExactlyAsSpecified) {
  GrpoConfig c;
  c.beta = 0.1;
  c.delta = 0.5;
  // mean(logp_old - logp) = 0.8 > delta for sequences 0 and 1; 0.2 for sequence 2.
  GrpoGroup g{{0.0, 1.0, 0.0, 1.0},
              {Seq({-1.8f, -1.8f}, {-1.0f, -1.0f}, {-1.2f, -1.1f}),  // A < 0, far: masked
               Seq({-1.8f, -1.8f}, {-1.0f, -1.0f}, {-1.2f, -1.1f}),  // A > 0, far: kept
               Seq({-1.2f, -1.2f}, {-1.0f, -1.0f}, {-1.2f, -1.1f}),  // A < 0, near: kept
               Seq({-1.0f, -1.0f}, {-1.0f, -1.0f}, {-1.2f, -1.1f})}};
  ASSERT_OK_AND_ASSIGN(GrpoResult r, ComputeGrpo({g}, c));
  EXPECT_FALSE(r.seq_mask[0][0]);
  EXPECT_TRUE(r.seq_mask[0][1]);
  EXPECT_TRUE(r.seq_mask[0][2]);
  EXPECT_TRUE(r.seq_mask[0][3]);
  EXPECT_DOUBLE_EQ(r.stats.masked_fraction, 0.25);
  // The masked sequence keeps exactly its KL gradient: -w * (-beta * dkl).
  for (int t = 0; t < 2; ++t) {
    double kl, dkl;
    KlTerm(KlEstimator::kUnbiasedK3, -1.8, -1.0, g.seqs[0].logp_ref[t], &kl, &dkl);
    EXPECT_NEAR(r.dlogp[0][0][t], -(1.0 / (4 * 2)) * (-0.1 * dkl), 1e-7);
    EXPECT_NE(r.dlogp[0][0][t], 0.0f);
  }
  // Without the mask option nothing is masked.
  c.offpolicy_mask = false;
  ASSERT_OK_AND_ASSIGN(GrpoResult r2, ComputeGrpo({g}, c));
  EXPECT_TRUE(r2.seq_mask[0][0]);
}

TEST(Grpo, UnbiasedKlGradientIsRatioTimesLogRatio) {
  for (double lp : {-3.0, -1.0, -0.1}) {
    double v, dv;
    KlTerm(KlEstimator::kUnbiasedK3, lp, -1.2, -0.7, &v, &dv);
    EXPECT_NEAR(dv, std::exp(lp + 1.2) * (lp + 0.7), 1e-12);
    EXPECT_GE(v, 0.0);
    const double h = 1e-6;
    double vp, vm, unused;
    KlTerm(KlEstimator::kUnbiasedK3, lp + h, -1.2, -0.7, &vp, &unused);
    KlTerm(KlEstimator::kUnbiasedK3, lp - h, -1.2, -0.7, &vm, &unused);
    EXPECT_NEAR((vp - vm) / (2 * h), dv, 1e-6);
  }
}

// Finite differences of the whole loss w.r.t. every counted token's logp, for every estimator,
// aggregation and normalization. Tokens close to a clip boundary or a mask threshold are kinks.
TEST(Grpo, GradientMatchesFiniteDifferencesForEveryOption) {
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 0.3f);
  std::vector<GrpoGroup> batch(3);
  for (auto& g : batch) {
    for (int i = 0; i < 4; ++i) {
      const int len = 3 + rng() % 5;
      GrpoSequence s;
      for (int t = 0; t < len; ++t) {
        s.mask.push_back(t % 4 != 0);  // some context tokens
        const float old = -1.5f + n(rng);
        s.logp_old.push_back(old);
        s.logp.push_back(old + n(rng));
        s.logp_ref.push_back(old + n(rng));
      }
      g.seqs.push_back(s);
      g.rewards.push_back((rng() % 3) / 2.0);
    }
  }
  for (auto kl : {KlEstimator::kUnbiasedK3, KlEstimator::kK1, KlEstimator::kK2, KlEstimator::kK3}) {
    for (auto agg : {LossAggregation::kSequenceMean, LossAggregation::kTokenSum,
                     LossAggregation::kGlobalTokenMean}) {
      for (bool std_norm : {false, true}) {
        GrpoConfig c;
        c.kl = kl;
        c.aggregation = agg;
        c.std_norm = std_norm;
        c.beta = 0.05;
        c.eps_high = 0.28;
        ASSERT_OK_AND_ASSIGN(GrpoResult r, ComputeGrpo(batch, c));
        int checked = 0;
        for (size_t g = 0; g < batch.size(); ++g) {
          for (size_t i = 0; i < batch[g].seqs.size(); ++i) {
            for (size_t t = 0; t < batch[g].seqs[i].mask.size(); ++t) {
              if (!batch[g].seqs[i].mask[t]) {
                EXPECT_EQ(r.dlogp[g][i][t], 0.0f);
                continue;
              }
              const GrpoSequence& s = batch[g].seqs[i];
              const double ratio = std::exp(double(s.logp[t]) - s.logp_old[t]);
              if (std::abs(ratio - (1 - c.eps_low)) < 0.01 ||
                  std::abs(ratio - (1 + c.eps_high)) < 0.01) {
                continue;
              }
              auto perturbed = batch;
              const float h = 1e-3f;
              perturbed[g].seqs[i].logp[t] += h;
              ASSERT_OK_AND_ASSIGN(GrpoResult p, ComputeGrpo(perturbed, c));
              perturbed[g].seqs[i].logp[t] -= 2 * h;
              ASSERT_OK_AND_ASSIGN(GrpoResult m, ComputeGrpo(perturbed, c));
              if (p.seq_mask != r.seq_mask || m.seq_mask != r.seq_mask) continue;
              const double fd = (p.loss - m.loss) / (2 * h);
              EXPECT_NEAR(r.dlogp[g][i][t], fd, 2e-4 + 1e-3 * std::abs(fd));
              ++checked;
            }
          }
        }
        EXPECT_GT(checked, 30);
      }
    }
  }
}

TEST(Grpo, StatisticsAndErrors) {
  GrpoConfig c;
  GrpoGroup same{{1.0, 1.0}, {Seq({-1}, {-1}), Seq({-1}, {-1})}};
  GrpoGroup diff{{1.0, 0.0}, {Seq({-1, -1}, {-1, -1}), Seq({-1}, {-1})}};
  ASSERT_OK_AND_ASSIGN(GrpoResult r, ComputeGrpo({same, diff}, c));
  EXPECT_DOUBLE_EQ(r.stats.frac_groups_all_equal, 0.5);
  EXPECT_DOUBLE_EQ(r.stats.mean_length, 1.25);
  EXPECT_EQ(r.stats.tokens, 5);
  // A group with all-equal rewards has zero advantages and, on-policy with beta 0, no gradient.
  EXPECT_EQ(r.dlogp[0][0][0], 0.0f);
  GrpoGroup bad{{1.0}, {Seq({-1, -1}, {-1})}};
  EXPECT_FALSE(ComputeGrpo({bad}, c).ok());
  GrpoGroup nan{{1.0, 0.0}, {Seq({NAN}, {-1}), Seq({-1}, {-1})}};
  EXPECT_FALSE(ComputeGrpo({nan}, c).ok());
}

// The trainer's walk: mini-batches normalized on their own, sequences added as micro-batches
// come. Each mini-batch's loss and gradient are ComputeGrpo's on that mini-batch alone, and the
// statistics over the walk are ComputeGrpo's over the whole batch.
TEST(GrpoAccumulator, MinibatchWalkMatchesComputeGrpo) {
  std::mt19937 rng(5);
  std::normal_distribution<float> n(0.0f, 0.3f);
  std::vector<GrpoGroup> batch(4);
  for (auto& g : batch) {
    for (int i = 0; i < 3; ++i) {
      GrpoSequence s;
      const int len = 2 + rng() % 6;
      for (int t = 0; t < len; ++t) {
        s.mask.push_back(t % 3 != 0);
        s.logp_old.push_back(-1.5f + n(rng));
        s.logp.push_back(s.logp_old.back() + n(rng));
        s.logp_ref.push_back(s.logp_old.back() + n(rng));
      }
      g.seqs.push_back(s);
      g.rewards.push_back((rng() % 3) / 2.0);
    }
  }
  for (auto agg : {LossAggregation::kSequenceMean, LossAggregation::kTokenSum,
                   LossAggregation::kGlobalTokenMean}) {
    GrpoConfig c;
    c.aggregation = agg;
    c.std_norm = true;
    c.beta = 0.05;
    c.delta = 0.05;  // some sequences masked
    GrpoAccumulator acc(c);
    for (const GrpoGroup& g : batch) acc.AddGroup(g.rewards);
    for (int g0 : {0, 2}) {
      const std::vector<GrpoGroup> mini(batch.begin() + g0, batch.begin() + g0 + 2);
      ASSERT_OK_AND_ASSIGN(GrpoResult want, ComputeGrpo(mini, c));
      GrpoNorm norm{2, 0};
      for (const GrpoGroup& g : mini) {
        for (const GrpoSequence& s : g.seqs)
          norm.tokens += std::count(s.mask.begin(), s.mask.end(), 1);
      }
      double J = 0;
      for (int g = 0; g < 2; ++g) {
        EXPECT_EQ(acc.advantages(g0 + g), want.advantages[g]);
        for (size_t i = 0; i < mini[g].seqs.size(); ++i) {
          std::vector<float> dlogp;
          const SequenceTerms t = acc.AddSequence(g0 + g, i, mini[g].seqs[i], norm, &dlogp);
          J += t.objective;
          EXPECT_EQ(t.kept, want.seq_mask[g][i]);
          EXPECT_EQ(dlogp, want.dlogp[g][i]);
        }
      }
      EXPECT_DOUBLE_EQ(-J, want.loss);
    }
    ASSERT_OK_AND_ASSIGN(GrpoStats stats, acc.Stats());
    ASSERT_OK_AND_ASSIGN(GrpoResult whole, ComputeGrpo(batch, c));
    EXPECT_EQ(stats.groups, 4);
    EXPECT_EQ(stats.sequences, 12);
    EXPECT_EQ(stats.tokens, whole.stats.tokens);
    EXPECT_DOUBLE_EQ(stats.reward_mean, whole.stats.reward_mean);
    EXPECT_DOUBLE_EQ(stats.advantage_std, whole.stats.advantage_std);
    EXPECT_DOUBLE_EQ(stats.masked_fraction, whole.stats.masked_fraction);
    EXPECT_GT(stats.masked_fraction, 0.0);
    EXPECT_DOUBLE_EQ(stats.clip_fraction, whole.stats.clip_fraction);
    EXPECT_DOUBLE_EQ(stats.kl, whole.stats.kl);
    EXPECT_DOUBLE_EQ(stats.mean_log_ratio, whole.stats.mean_log_ratio);
    EXPECT_DOUBLE_EQ(stats.mean_length, whole.stats.mean_length);
  }
}

// A non-finite current log-prob still yields its (non-finite) loss, so the trainer reports a
// skipped step; the statistics then fail, naming where.
TEST(GrpoAccumulator, NonFiniteLogProbFailsTheStatistics) {
  GrpoConfig c;
  GrpoAccumulator acc(c);
  acc.AddGroup({1.0, 0.0});
  std::vector<float> dlogp;
  acc.AddSequence(0, 0, Seq({-1, -1}, {-1, -1}), GrpoNorm{1, 4}, &dlogp);
  const SequenceTerms t = acc.AddSequence(0, 1, Seq({-1, NAN}, {-1, -1}), GrpoNorm{1, 4}, &dlogp);
  EXPECT_FALSE(std::isfinite(t.objective));
  const absl::StatusOr<GrpoStats> stats = acc.Stats();
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stats.status().message(), "grpo: group 0 sequence 1 token 1: non-finite log-prob");
  // Lengths that differ from the mask: nothing is computed.
  GrpoSequence short_seq = Seq({-1, -1}, {-1, -1});
  short_seq.logp.pop_back();
  const SequenceTerms none = acc.AddSequence(0, 0, short_seq, GrpoNorm{1, 4}, &dlogp);
  EXPECT_EQ(none.tokens, 0);
  EXPECT_EQ(dlogp, std::vector<float>(2, 0.0f));
}

}  // namespace
}  // namespace dsarl::learner

// The trainer: the gradient does not depend on how the batch is split into micro-batches;
// non-finite steps are skipped; a group that is malformed or brings a non-finite value of its own
// is dropped and the step trains on the others as if it had never been there; the LM and
// indexer-only steps train what they should.
#include "learner/trainer.h"

#include <cmath>
#include <functional>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/model_test_util.h"
#include "tests/model/near_ties.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

using model::AttentionMode;
using model::ModelDims;
using model::Transformer;

// Groups of G samples of a shared prompt; behaviour log-probs near the model's own so ratios
// straddle the clip range; kept sets on some positions; recorded experts when MoE.
std::vector<TrainGroup> MakeBatch(Transformer& m, int n_groups, int G, int len, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  const ModelDims& d = m.dims();
  std::vector<TrainGroup> batch(n_groups);
  for (auto& g : batch) {
    std::vector<int> prompt(6);
    for (int& t : prompt) t = rng() % d.vocab;
    for (int i = 0; i < G; ++i) {
      TrainSample s;
      s.tokens = prompt;
      while (int(s.tokens.size()) < len) s.tokens.push_back(rng() % d.vocab);
      s.loss_mask.assign(len, 0);
      for (int t = 6; t < len; ++t) s.loss_mask[t] = 1;
      s.kept.assign(len, {});
      for (int t = 7; t < len; t += 3) {
        s.kept[t] = {s.tokens[t], (s.tokens[t] + 1) % d.vocab, (s.tokens[t] + 2) % d.vocab};
      }
      g.samples.push_back(s);
      g.rewards.push_back((rng() % 4) / 3.0);
    }
  }
  // Behaviour log-probs: the model's own plus noise; routed experts as the model routes them.
  for (auto& g : batch) {
    for (auto& s : g.samples) {
      model::PackedBatch b;
      b.tokens = s.tokens;
      b.seq_start = {0, int(s.tokens.size())};
      b.targets.assign(len, -1);
      b.kept.assign(len, {});
      for (int t = 0; t + 1 < len; ++t) {
        if (s.loss_mask[t + 1]) {
          b.targets[t] = s.tokens[t + 1];
          b.kept[t] = s.kept[t + 1];
        }
      }
      auto r = m.Forward(b, model::ForwardOptions{});
      EXPECT_TRUE(r.ok());
      s.behaviour_logprobs.assign(len, 0.0f);
      for (int t = 1; t < len; ++t) {
        if (s.loss_mask[t]) s.behaviour_logprobs[t] = r->logp[t - 1] + noise(rng);
      }
      s.routed_experts = r->routed_experts;
    }
  }
  return batch;
}

// One GRPO step from the same initial policy, with the batch packed into micro-batches of at most
// `micro_tokens` tokens. Clipping is off, so the gradient left in grads() is the one AdamW applied.
struct SplitRun {
  std::vector<float> init, grads, params;
  double loss = 0, lr = 0;
};

SplitRun UpdateWith(const ModelDims& d, const std::vector<TrainGroup>& batch, int micro_tokens,
                    int expect_micro) {
  Transformer policy(d);
  policy.InitRandom(1);
  auto ref = std::make_unique<Transformer>(d);
  ref->InitRandom(2);
  TrainerOptions o;
  o.grpo.beta = 0.05;
  o.lr.peak = 1e-3;
  o.grad_clip = 0;
  o.micro_batch_tokens = micro_tokens;
  const size_t n = policy.table().total_floats();
  SplitRun run;
  run.init.assign(policy.params(), policy.params() + n);
  Trainer trainer(&policy, std::move(ref), o);
  auto r = trainer.GrpoStep(batch);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return run;
  EXPECT_EQ(r->micro_batches, expect_micro);
  EXPECT_FALSE(r->minibatches[0].skipped);
  run.loss = r->minibatches[0].loss;
  run.lr = r->minibatches[0].lr;
  run.grads.assign(policy.grads(), policy.grads() + n);
  run.params.assign(policy.params(), policy.params() + n);
  return run;
}

double Norm(const float* a, const float* b, size_t n) {  // ||a - b||, or ||a|| when b is null
  double ss = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = double(a[i]) - (b ? double(b[i]) : 0.0);
    ss += x * x;
  }
  return std::sqrt(ss);
}

// Splitting the batch changes only the order in which per-token gradients are summed, so the
// gradients agree to float32 rounding of those sums, and are compared by normalized error: over
// the whole model, and per tensor (with a floor of 1e-3 of the whole gradient's norm, so a tensor
// whose gradient is ~0 is compared absolutely). The parameters after the step are not compared
// across splits: AdamW's first step is lr * g / (|g| + eps), which turns a rounding-level
// difference in a near-zero g into a step of up to 2 lr. Instead each run's update is checked
// against AdamW's formula for the gradient that run computed.
//
// Discrete choices: the routed experts are recorded in the batch (forced, as in training), and
// the kept sets are given; the indexer's top-k is chosen anew in every forward, of the policy and
// of the reference model. Packing changes the GEMM shapes and so the indexer scores at rounding
// level, which could flip a key at a near-tie of the cut; the test first checks that this batch
// has no near-tie in either model (margins of 1e-4 relative), so the selections are the same
// however the batch is split, on any machine.
TEST(Trainer, UpdateDoesNotDependOnMicroBatchSplit) {
  for (bool moe : {false, true}) {
    SCOPED_TRACE(moe ? "MoE" : "dense FFN");
    ModelDims d = model::testing::TinyTestDims(moe, AttentionMode::kSparse);
    Transformer m(d);
    m.InitRandom(1);
    auto batch = MakeBatch(m, 2, 7, 20, 3);  // 14 sequences of 20 tokens
    {
      model::PackedBatch all;  // all 14 in one micro-batch
      all.seq_start = {0};
      for (const TrainGroup& g : batch) {
        for (const TrainSample& s : g.samples) {
          all.tokens.insert(all.tokens.end(), s.tokens.begin(), s.tokens.end());
          all.forced_experts.insert(all.forced_experts.end(), s.routed_experts.begin(),
                                    s.routed_experts.end());
          all.seq_start.push_back(all.tokens.size());
        }
      }
      all.targets.assign(all.tokens.size(), -1);
      // The policy (m's weights) and the reference model (seed 2, for the KL term) both select.
      Transformer ref(d);
      ref.InitRandom(2);
      for (Transformer* model : {&m, &ref}) {
        std::string why;
        ASSERT_EQ(dsarl::testing::FirstNearTieRow(*model, all, AttentionMode::kSparse, 1e-4, &why),
                  int(all.tokens.size()))
            << "the test batch has a near-tie (" << why << (model == &ref ? ", reference" : "")
            << "): pick another seed";
      }
    }
    const SplitRun r1 = UpdateWith(d, batch, 1000, 1);
    ASSERT_FALSE(r1.grads.empty());
    const size_t n = r1.grads.size();
    const double g_norm = Norm(r1.grads.data(), nullptr, n);
    ASSERT_GT(g_norm, 0);
    for (auto [micro_tokens, expect_micro] : {std::pair{140, 2}, std::pair{40, 7}}) {
      SCOPED_TRACE(absl::StrCat(expect_micro, " micro-batches"));
      const SplitRun r = UpdateWith(d, batch, micro_tokens, expect_micro);
      ASSERT_EQ(r.grads.size(), n);
      EXPECT_NEAR(r.loss, r1.loss, 1e-5 * std::max(1.0, std::abs(r1.loss)));
      EXPECT_EQ(r.lr, r1.lr);
      EXPECT_LT(Norm(r.grads.data(), r1.grads.data(), n) / g_norm, 1e-4);
      for (const model::TensorInfo& t : m.table().tensors()) {
        const float* a = r.grads.data() + t.offset;
        const float* b = r1.grads.data() + t.offset;
        const double err = Norm(a, b, t.numel) / std::max(Norm(b, nullptr, t.numel), 1e-3 * g_norm);
        EXPECT_LT(err, 1e-4) << t.name;
      }
    }
    // The update is AdamW's first step (bias-corrected moments m = g, v = g^2; no weight decay)
    // of the gradient: p - lr * g / (|g| + eps).
    const double eps = AdamWConfig().eps;
    double moved = 0, worst = 0;
    for (const model::TensorInfo& t : m.table().tensors()) {
      for (size_t i = t.offset; i < t.offset + t.numel; ++i) {
        const double g = t.trainable ? r1.grads[i] : 0.0;  // buffers do not train
        const double expected = r1.init[i] - r1.lr * g / (std::abs(g) + eps);
        worst = std::max(worst, std::abs(r1.params[i] - expected) /
                                    (1e-3 * r1.lr + 1e-6 * std::abs(r1.init[i])));
        moved = std::max(moved, std::abs(double(r1.params[i]) - r1.init[i]));
      }
    }
    EXPECT_LT(worst, 1.0) << "an update differs from AdamW's by more than 1e-3 lr";
    EXPECT_GT(moved, 0.5 * r1.lr);  // Adam's first step moves weights by ~lr
  }
}

TEST(Trainer, SkipsAndReportsNonFiniteSteps) {
  ModelDims d = model::testing::TinyTestDims(false, AttentionMode::kSparse);
  Transformer policy(d);
  policy.InitRandom(1);
  auto batch = MakeBatch(policy, 1, 4, 12, 3);
  const model::TensorInfo* t = policy.table().Find("model.layers.0.mlp.up_proj.weight");
  policy.params()[t->offset] = NAN;
  std::vector<float> before(policy.params(), policy.params() + policy.table().total_floats());
  TrainerOptions o;
  o.grpo.beta = 0;
  Trainer trainer(&policy, nullptr, o);
  ASSERT_OK_AND_ASSIGN(StepReport r, trainer.GrpoStep(batch));
  EXPECT_TRUE(r.minibatches[0].skipped)
      << "loss " << r.minibatches[0].loss << " norm " << r.minibatches[0].grad_norm
      << " reward_mean " << r.grpo.reward_mean << " len " << r.grpo.mean_length;
  for (size_t i = 0; i < before.size(); ++i) {
    if (std::isnan(before[i])) continue;
    ASSERT_EQ(before[i], policy.params()[i]);
  }
  EXPECT_EQ(trainer.step(), 1);
  EXPECT_TRUE(r.dropped.empty()) << "a broken policy is no group's fault";
}

TEST(Trainer, MinibatchesTakeSeveralStepsAndRejectBadSamples) {
  ModelDims d = model::testing::TinyTestDims(false, AttentionMode::kSparse);
  Transformer policy(d);
  policy.InitRandom(1);
  auto batch = MakeBatch(policy, 4, 4, 12, 3);
  TrainerOptions o;
  o.grpo.beta = 0;
  o.minibatches = 2;
  o.lr.peak = 1e-2;
  Trainer trainer(&policy, nullptr, o);
  ASSERT_OK_AND_ASSIGN(StepReport r, trainer.GrpoStep(batch));
  ASSERT_EQ(r.minibatches.size(), 2u);
  EXPECT_EQ(trainer.step(), 2);
  // The second mini-batch saw a moved policy: its log-ratios are no longer the behaviour noise.
  EXPECT_EQ(r.grpo.sequences, 16);
  // A malformed sample drops its group; the others train.
  batch[1].samples[2].loss_mask.pop_back();
  ASSERT_OK_AND_ASSIGN(r, trainer.GrpoStep(batch));
  ASSERT_EQ(r.dropped.size(), 1u);
  EXPECT_EQ(r.dropped[0].group, 1);
  EXPECT_THAT(r.dropped[0].reason, ::testing::HasSubstr("sample 2"));
  EXPECT_EQ(r.grpo.sequences, 12);
  EXPECT_EQ(trainer.step(), 4);
}

// The parameters after one GrpoStep on `batch` from seed-1 weights, and its report.
std::pair<std::vector<float>, StepReport> StepOn(const ModelDims& d,
                                                 const std::vector<TrainGroup>& batch) {
  Transformer policy(d);
  policy.InitRandom(1);
  TrainerOptions o;
  o.grpo.beta = 0;
  o.lr.peak = 1e-2;
  Trainer trainer(&policy, nullptr, o);
  absl::StatusOr<StepReport> r = trainer.GrpoStep(batch);
  EXPECT_OK(r.status());
  return {std::vector<float>(policy.params(), policy.params() + policy.table().total_floats()),
          r.ok() ? *r : StepReport{}};
}

// Each poisoned group is dropped and the update is the one the other groups make alone.
TEST(Trainer, APoisonedGroupIsDroppedAndTheStepTrainsOnTheOthers) {
  ModelDims d = model::testing::TinyTestDims(false, AttentionMode::kSparse);
  Transformer m(d);
  m.InitRandom(1);
  const std::vector<TrainGroup> clean = MakeBatch(m, 3, 4, 12, 5);
  const std::vector<TrainGroup> rest = {clean[0], clean[2]};
  const auto [expected, expected_report] = StepOn(d, rest);
  ASSERT_FALSE(expected_report.minibatches[0].skipped);
  struct Case {
    const char* name;
    std::function<void(TrainGroup*)> poison;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"NaN reward", [](TrainGroup* g) { g->rewards[1] = NAN; }, "reward nan"},
      {"inf reward", [](TrainGroup* g) { g->rewards[0] = INFINITY; }, "reward inf"},
      // Finite rewards whose advantages overflow.
      {"huge rewards", [](TrainGroup* g) { g->rewards[0] = g->rewards[1] = 1.7e308; },
       "advantages are not finite"},
      {"kept set without its token",
       [](TrainGroup* g) { g->samples[2].kept[7] = {(g->samples[2].tokens[7] + 1) % 40}; },
       "lacks its token"},
      // Passes every input check, but its importance ratio overflows in the loss.
      // (With a negative advantage, so that the unclipped branch carries it.)
      {"behaviour log-prob -1e30",
       [](TrainGroup* g) {
         g->rewards.assign(4, 1.0);
         g->rewards[3] = 0;
         g->samples[3].behaviour_logprobs[8] = -1e30f;
       },
       "not finite"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<TrainGroup> batch = clean;
    c.poison(&batch[1]);
    const auto [params, report] = StepOn(d, batch);
    ASSERT_EQ(report.dropped.size(), 1u);
    EXPECT_EQ(report.dropped[0].group, 1);
    EXPECT_THAT(report.dropped[0].reason, ::testing::HasSubstr(c.reason));
    ASSERT_EQ(report.minibatches.size(), 1u);
    EXPECT_FALSE(report.minibatches[0].skipped);
    EXPECT_TRUE(std::isfinite(report.minibatches[0].loss));
    EXPECT_NEAR(report.minibatches[0].loss, expected_report.minibatches[0].loss, 1e-6);
    EXPECT_EQ(report.grpo.sequences, 8);
    ASSERT_EQ(params.size(), expected.size());
    double worst = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      worst = std::max(worst, double(std::abs(params[i] - expected[i])));
    }
    EXPECT_LT(worst, 1e-6) << "the update differs from the one without the poisoned group";
  }
}

TEST(Trainer, LmStepLowersLossAndIndexerOnlyTouchesIndexers) {
  ModelDims d = model::testing::TinyTestDims(false, AttentionMode::kSparse);
  Transformer policy(d);
  policy.InitRandom(1);
  auto groups = MakeBatch(policy, 1, 4, 24, 9);
  std::vector<TrainSample> batch = groups[0].samples;
  for (auto& s : batch) s.kept.clear();
  TrainerOptions o;
  o.lr.peak = 3e-3;
  Trainer trainer(&policy, nullptr, o);
  LmStepOptions lm;
  ASSERT_OK_AND_ASSIGN(StepReport first, trainer.LmStep(batch, lm));
  StepReport last;
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK_AND_ASSIGN(last, trainer.LmStep(batch, lm));
  }
  EXPECT_LT(last.minibatches[0].loss, first.minibatches[0].loss - 0.1);
  // Warm-up: dense attention, only the indexers move, and the indexer KL goes down.
  std::vector<float> before(policy.params(), policy.params() + policy.table().total_floats());
  LmStepOptions warm;
  warm.mode = AttentionMode::kDenseWarmup;
  warm.lm_loss = false;
  warm.indexer_only = true;
  ASSERT_OK_AND_ASSIGN(StepReport w0, trainer.LmStep(batch, warm));
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK_AND_ASSIGN(last, trainer.LmStep(batch, warm));
  }
  EXPECT_LT(last.indexer_kl, w0.indexer_kl);
  bool indexer_moved = false;
  for (const model::TensorInfo& t : policy.table().tensors()) {
    for (size_t i = 0; i < t.numel; ++i) {
      const bool changed = before[t.offset + i] != policy.params()[t.offset + i];
      if (t.is_indexer)
        indexer_moved |= changed;
      else
        ASSERT_FALSE(changed) << t.name;
    }
  }
  EXPECT_TRUE(indexer_moved);
}

}  // namespace
}  // namespace dsarl::learner

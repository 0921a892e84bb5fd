// The trainer: an update does not depend on how the batch is split into micro-batches; non-finite
// steps are skipped; the LM and indexer-only steps train what they should.
#include "learner/trainer.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "tests/model/model_test_util.h"
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

std::vector<float> UpdateWith(const ModelDims& d, const std::vector<TrainGroup>& batch,
                              int micro_tokens, int expect_micro, double* loss) {
  Transformer policy(d);
  policy.InitRandom(1);
  auto ref = std::make_unique<Transformer>(d);
  ref->InitRandom(2);
  TrainerOptions o;
  o.grpo.beta = 0.05;
  o.lr.peak = 1e-3;
  o.micro_batch_tokens = micro_tokens;
  Trainer trainer(&policy, std::move(ref), o);
  auto r = trainer.GrpoStep(batch);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->micro_batches, expect_micro);
  EXPECT_FALSE(r->minibatches[0].skipped);
  *loss = r->minibatches[0].loss;
  return std::vector<float>(policy.params(), policy.params() + policy.table().total_floats());
}

TEST(Trainer, UpdateDoesNotDependOnMicroBatchSplit) {
  for (bool moe : {false, true}) {
    ModelDims d = model::testing::TinyTestDims(moe, AttentionMode::kSparse);
    Transformer m(d);
    m.InitRandom(1);
    auto batch = MakeBatch(m, 2, 7, 20, 5);  // 14 sequences of 20 tokens
    double l1, l2, l7;
    auto p1 = UpdateWith(d, batch, 1000, 1, &l1);
    auto p2 = UpdateWith(d, batch, 140, 2, &l2);
    auto p7 = UpdateWith(d, batch, 40, 7, &l7);
    EXPECT_NEAR(l1, l2, 1e-6);
    EXPECT_NEAR(l1, l7, 1e-6);
    double max2 = 0, max7 = 0, moved = 0;
    Transformer init(d);
    init.InitRandom(1);
    for (size_t i = 0; i < p1.size(); ++i) {
      max2 = std::max(max2, double(std::abs(p1[i] - p2[i])));
      max7 = std::max(max7, double(std::abs(p1[i] - p7[i])));
      moved = std::max(moved, double(std::abs(p1[i] - init.params()[i])));
    }
    EXPECT_GT(moved, 5e-4);  // Adam's first step moves weights by ~lr
    EXPECT_LT(max2, 2e-6) << "moe=" << moe;
    EXPECT_LT(max7, 2e-6) << "moe=" << moe;
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
  EXPECT_TRUE(r.minibatches[0].skipped) << "loss " << r.minibatches[0].loss << " norm " << r.minibatches[0].grad_norm << " reward_mean " << r.grpo.reward_mean << " len " << r.grpo.mean_length;
  for (size_t i = 0; i < before.size(); ++i) {
    if (std::isnan(before[i])) continue;
    ASSERT_EQ(before[i], policy.params()[i]);
  }
  EXPECT_EQ(trainer.step(), 1);
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
  batch[1].samples[2].loss_mask.pop_back();
  EXPECT_FALSE(trainer.GrpoStep(batch).ok());
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
      if (t.is_indexer) indexer_moved |= changed;
      else ASSERT_FALSE(changed) << t.name;
    }
  }
  EXPECT_TRUE(indexer_moved);
}

}  // namespace
}  // namespace dsarl::learner

// Generation against the training forward: decode step by step equals the full forward; batched
// equals one sequence at a time; forks equal a fresh prefill; sparse equals dense when every
// token fits in the top-k; forced routing reproduces recorded experts.
// Paths that differ in rounding (decode rows vs a prefill panel, a batch vs one sequence) agree in
// their top-k selections and MoE routing only when no choice is a near-tie, so each comparison
// first draws a model whose reference forward has none (tests/model/near_ties.h), then compares
// with a tolerance that holds for any summation order.
#include "model/generator.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/model_test_util.h"
#include "tests/model/near_ties.h"
#include "tests/model/op_harness.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

std::vector<float> LogSoftmax(const float* z, int V) {
  float mx = *std::max_element(z, z + V);
  double s = 0;
  for (int v = 0; v < V; ++v) s += std::exp(double(z[v] - mx));
  std::vector<float> out(V);
  for (int v = 0; v < V; ++v) out[v] = z[v] - mx - float(std::log(s));
  return out;
}

// Re-initializes `m` with seeds from `seed` on until its forward on each batch has no choice that
// a relative perturbation of 1e-4 could flip; false (with the last near-tie in *why) when 50 seeds
// do not give one.
bool InitWithoutNearTies(Transformer* m, const std::vector<PackedBatch>& batches,
                         AttentionMode mode, uint64_t seed, std::string* why) {
  for (uint64_t s = seed; s < seed + 50; ++s) {
    m->InitRandom(s);
    bool clear = true;
    for (const PackedBatch& b : batches) {
      clear = dsarl::testing::FirstNearTieRow(*m, b, mode, 1e-4, why) == int(b.tokens.size());
      if (!clear) break;
    }
    if (clear) return true;
  }
  return false;
}

// Normalized error of logits rows (optest::NormalizedError).
double LogitsError(const float* a, const float* b, int n) {
  return optest::NormalizedError(a, b, n);
}

class GeneratorTest : public ::testing::TestWithParam<std::tuple<bool, AttentionMode>> {};

TEST_P(GeneratorTest, StepByStepDecodeEqualsFullForward) {
  auto [moe, mode] = GetParam();
  ModelDims d = testing::TinyTestDims(moe, mode);
  Transformer m(d);
  PackedBatch b = testing::RandomBatch({20}, d.vocab, 9);  // 20 > index_topk: sparse matters
  std::string why;
  ASSERT_TRUE(InitWithoutNearTies(&m, {b}, mode, 5, &why)) << why;
  ForwardOptions o;
  o.mode = mode;
  ASSERT_OK_AND_ASSIGN(ForwardResult full, m.Forward(b, o));
  Generator g(&m, mode);
  auto s = g.NewSequence();
  // Prefill 7 tokens, then decode one at a time.
  std::vector<int> prompt(b.tokens.begin(), b.tokens.begin() + 7);
  ASSERT_OK_AND_ASSIGN(auto r, g.Step({s}, {prompt}));
  for (int t = 6; t < 20; ++t) {
    auto lp = LogSoftmax(r.logits.data(), d.vocab);
    EXPECT_NEAR(lp[b.targets[t]], full.logp[t], 5e-5) << "position " << t;
    if (t + 1 < 20) {
      ASSERT_OK_AND_ASSIGN(r, g.Step({s}, {{b.tokens[t + 1]}}));
    }
  }
  EXPECT_EQ(g.Length(s), 20);
}

INSTANTIATE_TEST_SUITE_P(Modes, GeneratorTest,
                         ::testing::Values(std::make_tuple(false, AttentionMode::kDense),
                                           std::make_tuple(false, AttentionMode::kSparse),
                                           std::make_tuple(true, AttentionMode::kSparse)));

// One sequence: `tokens` as a batch for the training forward.
PackedBatch Sequence(const std::vector<int>& tokens) {
  PackedBatch b;
  b.tokens = tokens;
  b.targets.assign(tokens.size(), -1);
  b.seq_start = {0, int(tokens.size())};
  return b;
}

TEST(Generator, BatchedEqualsOneSequenceAtATime) {
  ModelDims d = testing::TinyTestDims(true, AttentionMode::kSparse);
  Transformer m(d);
  std::vector<std::vector<int>> prompts = {
      {1, 2, 3, 4, 5, 6, 7, 8, 9}, {40, 41}, {7, 7, 7, 7, 100}};
  std::vector<std::vector<int>> steps = {{10, 11, 12}, {13, 14, 15}, {16, 17, 18}, {19, 20, 21}};
  std::vector<PackedBatch> whole;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int> toks = prompts[i];
    for (const auto& st : steps) toks.push_back(st[i]);
    whole.push_back(Sequence(toks));
  }
  std::string why;
  ASSERT_TRUE(InitWithoutNearTies(&m, whole, AttentionMode::kSparse, 3, &why)) << why;
  Generator batched(&m, AttentionMode::kSparse);
  std::vector<Generator::SeqId> ids;
  for (size_t i = 0; i < prompts.size(); ++i) ids.push_back(batched.NewSequence());
  ASSERT_OK_AND_ASSIGN(auto rb, batched.Step(ids, prompts));
  std::vector<std::vector<float>> batched_logits = {rb.logits};
  for (const auto& st : steps) {
    ASSERT_OK_AND_ASSIGN(rb, batched.Step(ids, {{st[0]}, {st[1]}, {st[2]}}));
    batched_logits.push_back(rb.logits);
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    Generator one(&m, AttentionMode::kSparse);
    auto s = one.NewSequence();
    ASSERT_OK_AND_ASSIGN(auto r, one.Step({s}, {prompts[i]}));
    for (size_t k = 0; k <= steps.size(); ++k) {
      EXPECT_LT(LogitsError(&batched_logits[k][i * d.vocab], r.logits.data(), d.vocab), 2e-5)
          << "sequence " << i << " step " << k;
      if (k < steps.size()) {
        ASSERT_OK_AND_ASSIGN(r, one.Step({s}, {{steps[k][i]}}));
      }
    }
  }
}

TEST(Generator, ForkSharesThePrefill) {
  ModelDims d = testing::TinyTestDims(false, AttentionMode::kSparse);
  Transformer m(d);
  std::string why;
  ASSERT_TRUE(InitWithoutNearTies(
      &m, {Sequence({5, 6, 7, 8, 9, 10, 11, 12}), Sequence({5, 6, 7, 8, 9, 10, 11, 13})},
      AttentionMode::kSparse, 4, &why))
      << why;
  Generator g(&m, AttentionMode::kSparse);
  auto a = g.NewSequence();
  ASSERT_OK(g.Step({a}, {{5, 6, 7, 8, 9, 10, 11}}).status());
  ASSERT_OK_AND_ASSIGN(auto b, g.Fork(a));
  ASSERT_OK_AND_ASSIGN(auto ra, g.Step({a, b}, {{12}, {13}}));
  Generator fresh(&m, AttentionMode::kSparse);
  auto c = fresh.NewSequence();
  ASSERT_OK_AND_ASSIGN(auto rc, fresh.Step({c}, {{5, 6, 7, 8, 9, 10, 11, 13}}));
  EXPECT_LT(LogitsError(&ra.logits[d.vocab], rc.logits.data(), d.vocab), 2e-5);
  EXPECT_EQ(g.Length(a), 8);
  EXPECT_EQ(g.Length(b), 8);
}

TEST(Generator, RejectsBadInputWithoutChangingCaches) {
  ModelDims d = testing::TinyTestDims(false, AttentionMode::kSparse);
  Transformer m(d);
  m.InitRandom(4);
  Generator g(&m, AttentionMode::kSparse);
  auto a = g.NewSequence();
  EXPECT_FALSE(g.Step({a}, {{1, 2, d.vocab}}).ok());
  EXPECT_FALSE(g.Step({a, a}, {{1}, {2}}).ok());
  EXPECT_FALSE(g.Step({a + 5}, {{1}}).ok());
  EXPECT_FALSE(g.Step({a}, {std::vector<int>(d.max_pos + 1, 1)}).ok());
  EXPECT_EQ(g.Length(a), 0);
  EXPECT_FALSE(g.Fork(42).ok());
}

// The layer sends a batch whose rows all fit in the top-k to the dense kernel, so the sparse mode
// is then dense attention exactly (SPEC §1). That the sparse kernels over full index lists also
// equal dense attention is op_test's SparseAttention.FullIndexListsEqualDense.
TEST(Sparse, EqualsDenseExactlyWhenTopkCoversTheSequence) {
  ModelDims d = testing::TinyTestDims(true, AttentionMode::kSparse);
  d.index_topk = 32;
  Transformer m(d);
  m.InitRandom(8);
  PackedBatch b = testing::RandomBatch({32, 17, 5}, d.vocab, 2);
  ForwardOptions sparse, dense;
  sparse.mode = AttentionMode::kSparse;
  dense.mode = AttentionMode::kDense;
  ASSERT_OK_AND_ASSIGN(auto rs, m.Forward(b, sparse));
  ASSERT_OK_AND_ASSIGN(auto rd, m.Forward(b, dense));
  for (size_t t = 0; t < rs.logp.size(); ++t) EXPECT_EQ(rs.logp[t], rd.logp[t]) << t;
  // And with a smaller top-k the two differ: sparse attention really drops keys.
  d.index_topk = 4;
  Transformer m2(d);
  m2.InitRandom(8);
  ASSERT_OK_AND_ASSIGN(auto rs2, m2.Forward(b, sparse));
  ASSERT_OK_AND_ASSIGN(auto rd2, m2.Forward(b, dense));
  double diff = 0;
  for (size_t t = 0; t < rs2.logp.size(); ++t) diff += std::abs(rs2.logp[t] - rd2.logp[t]);
  EXPECT_GT(diff, 1e-3);
}

TEST(Sparse, NoAttentionAcrossSequenceBoundaries) {
  ModelDims d = testing::TinyTestDims(false, AttentionMode::kSparse);
  Transformer m(d);
  PackedBatch both = testing::RandomBatch({11, 9}, d.vocab, 2);
  PackedBatch second;
  second.tokens.assign(both.tokens.begin() + 11, both.tokens.end());
  second.targets.assign(both.targets.begin() + 11, both.targets.end());
  second.seq_start = {0, 9};
  std::string why;
  ASSERT_TRUE(InitWithoutNearTies(&m, {both, second}, AttentionMode::kSparse, 8, &why)) << why;
  ASSERT_OK_AND_ASSIGN(auto r, m.Forward(both, ForwardOptions{}));
  ASSERT_OK_AND_ASSIGN(auto r2, m.Forward(second, ForwardOptions{}));
  for (int t = 0; t < 9; ++t) EXPECT_NEAR(r.logp[11 + t], r2.logp[t], 1e-5);
}

TEST(Moe, ForcedRoutingReproducesRecordedExperts) {
  ModelDims d = testing::TinyTestDims(true, AttentionMode::kSparse);
  Transformer m(d);
  m.InitRandom(12);
  PackedBatch b = testing::RandomBatch({15, 6}, d.vocab, 5);
  ASSERT_OK_AND_ASSIGN(auto rec, m.Forward(b, ForwardOptions{}));
  ASSERT_EQ(rec.routed_experts.size(), b.tokens.size() * d.n_moe_layers() * d.experts_per_tok);
  // Change the router: free routing now picks other experts, forced routing keeps the record.
  const TensorInfo* gate = m.table().Find("model.layers.1.mlp.gate.weight");
  ASSERT_NE(gate, nullptr);
  for (size_t i = 0; i < gate->numel; ++i) m.params()[gate->offset + i] *= -3.0f;
  ASSERT_OK_AND_ASSIGN(auto free_run, m.Forward(b, ForwardOptions{}));
  EXPECT_NE(free_run.routed_experts, rec.routed_experts);
  b.forced_experts = rec.routed_experts;
  ASSERT_OK_AND_ASSIGN(auto forced, m.Forward(b, ForwardOptions{}));
  EXPECT_EQ(forced.routed_experts, rec.routed_experts);
  // A malformed record is refused.
  b.forced_experts.pop_back();
  EXPECT_FALSE(m.Forward(b, ForwardOptions{}).ok());
}

TEST(Transformer, KeptSetRenormalizesLogProb) {
  ModelDims d = testing::TinyTestDims(false, AttentionMode::kDense);
  Transformer m(d);
  m.InitRandom(1);
  PackedBatch b = testing::RandomBatch({6}, d.vocab, 1);
  ASSERT_OK_AND_ASSIGN(auto full, m.Forward(b, ForwardOptions{}));
  b.kept.assign(b.tokens.size(), {});
  b.kept[2] = {b.targets[2]};  // a single kept token has probability 1
  ASSERT_OK_AND_ASSIGN(auto kept, m.Forward(b, ForwardOptions{}));
  EXPECT_NEAR(kept.logp[2], 0.0f, 1e-6);
  EXPECT_LT(full.logp[2], -1.0f);
  EXPECT_EQ(kept.logp[3], full.logp[3]);
  b.kept[4] = {(b.targets[4] + 1) % d.vocab};  // target outside its kept set
  EXPECT_FALSE(m.Forward(b, ForwardOptions{}).ok());
}

}  // namespace
}  // namespace dsarl::model

// Every parameter gradient of the whole model against central finite differences, in each
// attention mode, dense and MoE: for each tensor, the directional derivative along a random
// direction inside that tensor must match (L(w + eps v) - L(w - eps v)) / (2 eps).
#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "model/transformer.h"
#include "tests/model/model_test_util.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

struct Case {
  bool moe;
  AttentionMode mode;
  bool indexer_loss;
  bool kept;
};

// The selection (top-k indices, MoE routes) is piecewise constant in the parameters; finite
// differences are only meaningful where a perturbation leaves it unchanged.
std::vector<int> Selection(const Transformer& m, const ForwardResult& r) {
  std::vector<int> s = r.routed_experts;
  for (int l = 0; l < m.dims().n_layers; ++l) {
    const auto& idx = m.layer_acts(l).indices;
    s.insert(s.end(), idx.begin(), idx.end());
  }
  return s;
}

// L = sum_t c_t logp_t (+ indexer KL when `with_kl`). The KL's target p is detached by definition
// (SPEC §2), so with detached indexer inputs only indexer tensors see the KL's gradient; for them
// the LM term is constant (selection unchanged) and the KL's p does not depend on them.
double Loss(Transformer& m, const PackedBatch& b, const ForwardOptions& o,
            const std::vector<float>& c, bool with_kl, std::vector<int>* selection) {
  auto r = m.Forward(b, o);
  EXPECT_TRUE(r.ok()) << r.status();
  *selection = Selection(m, *r);
  double L = 0;
  for (size_t t = 0; t < c.size(); ++t) L += double(c[t]) * r->logp[t];
  if (with_kl) {
    for (const auto& s : r->indexer) L += double(o.indexer_loss_scale) * s.kl_sum;
  }
  return L;
}

void CheckGradients(const Case& k) {
  ModelDims d = testing::TinyTestDims(k.moe, k.mode);
  Transformer m(d);
  m.InitRandom(7);
  PackedBatch b = testing::RandomBatch({9, 13}, d.vocab, 3);
  std::mt19937 rng(11);
  if (k.kept) {
    b.kept.resize(b.tokens.size());
    for (size_t t = 0; t < b.tokens.size(); t += 2) {
      b.kept[t] = {b.targets[t], int((b.targets[t] + 1) % d.vocab),
                   int((b.targets[t] + 7) % d.vocab)};
    }
  }
  ForwardOptions o;
  o.mode = k.mode;
  o.indexer_loss = k.indexer_loss;
  o.indexer_loss_scale = 0.05f;
  o.detach_indexer = true;
  o.temperature = k.kept ? 0.7f : 1.0f;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> c(b.tokens.size());
  for (float& x : c) x = u(rng) / c.size();
  m.ZeroGrad();
  ASSERT_OK_AND_ASSIGN(ForwardResult base, m.Forward(b, o));
  const std::vector<int> base_sel = Selection(m, base);
  ASSERT_OK(m.Backward(c.data()));
  std::vector<float> grad(m.grads(), m.grads() + m.table().total_floats());
  int checked = 0, unstable = 0;
  for (const TensorInfo& t : m.table().tensors()) {
    if (!t.trainable) continue;
    std::vector<float> v(t.numel);
    double gv = 0;
    for (size_t i = 0; i < t.numel; ++i) {
      v[i] = u(rng);
      gv += double(v[i]) * grad[t.offset + i];
    }
    float* p = m.params() + t.offset;
    std::vector<float> orig(p, p + t.numel);
    double fd = 0;
    bool stable = false;
    for (float eps = 2e-3f; eps > 1e-4f && !stable; eps /= 2) {
      std::vector<int> sel_p, sel_m;
      for (size_t i = 0; i < t.numel; ++i) p[i] = orig[i] + eps * v[i];
      const double lp = Loss(m, b, o, c, t.is_indexer, &sel_p);
      for (size_t i = 0; i < t.numel; ++i) p[i] = orig[i] - eps * v[i];
      const double lm = Loss(m, b, o, c, t.is_indexer, &sel_m);
      std::copy(orig.begin(), orig.end(), p);
      stable = sel_p == base_sel && sel_m == base_sel;
      fd = (lp - lm) / (2 * eps);
    }
    if (!stable) {
      ++unstable;
      continue;
    }
    const double tol = 2e-3 + 2e-2 * std::max(std::abs(fd), std::abs(gv));
    EXPECT_NEAR(gv, fd, tol) << t.name;
    ++checked;
  }
  EXPECT_GT(checked, 20);
  EXPECT_LE(unstable, 3) << "too many tensors whose perturbation changed the selection";
}

TEST(TransformerGrad, DenseAttention) {
  CheckGradients({false, AttentionMode::kDense, false, false});
}
TEST(TransformerGrad, SparseAttentionWithKeptSets) {
  CheckGradients({false, AttentionMode::kSparse, false, true});
}
TEST(TransformerGrad, SparseWithIndexerLoss) {
  CheckGradients({false, AttentionMode::kSparse, true, false});
}
TEST(TransformerGrad, DenseWarmupIndexerLoss) {
  CheckGradients({false, AttentionMode::kDenseWarmup, true, false});
}
TEST(TransformerGrad, MoeSparse) { CheckGradients({true, AttentionMode::kSparse, false, false}); }

}  // namespace
}  // namespace dsarl::model

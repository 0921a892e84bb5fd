// Finite differences for every backward op of the Backend table, on small shapes, for the reference
// backend and every backend under test: for a loss L = <r, forward(inputs)> (the indexer loss: its
// KL), the directional derivative <grad_i, v> along a random direction v of each input must match
// (L(x + h v) - L(x - h v)) / 2h, with L evaluated by the reference forward, to 1e-3 of the larger
// plus 3e-4 of |grad| |v| (a direction nearly orthogonal to the gradient leaves only noise to
// compare). Piecewise ops (the indexer's ReLUs) redraw v until both probes lie on x's piece.
#include <cmath>
#include <functional>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/params.h"
#include "tests/model/model_test_util.h"
#include "tests/model/op_cases.h"
#include "tests/model/op_harness.h"

namespace dsarl::model::optest {
namespace {

using Tensors = std::vector<std::vector<float>>;

struct GradCase {
  std::string op;
  std::vector<std::string> names;  // of the inputs
  Tensors inputs;
  // L at the given inputs, on backend `be` (the check calls it with the reference).
  std::function<double(const Backend& be, const Tensors& in)> loss;
  // dL/d(input) for every input, from `be`'s backward op.
  std::function<Tensors(const Backend& be, const Tensors& in)> grad;
  // Optional: true when the op is on the same smooth piece at both points.
  std::function<bool(const Tensors& a, const Tensors& b)> same_piece;
};

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

void CheckGradients(const GradCase& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<const Backend*> backends = BackendsUnderTest();
  backends.insert(backends.begin(), &ReferenceBackend());
  for (const Backend* be : backends) {
    const Tensors g = c.grad(*be, c.inputs);
    ASSERT_EQ(g.size(), c.inputs.size());
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      ASSERT_EQ(g[i].size(), c.inputs[i].size()) << c.names[i];
      // Unit-norm directions and this step: the central difference's truncation error (~h^2) and
      // the float rounding of the forward (~eps / h) both stay near 1e-5 of |grad| |step|.
      const double h = 1e-2;
      double fd = 0, gv = 0, bound = 0;
      bool probed = false;
      for (int attempt = 0; attempt < 20 && !probed; ++attempt) {
        std::vector<float> v = Normal(rng, c.inputs[i].size());
        const double vnorm = std::sqrt(Dot(v, v));
        for (float& x : v) x = float(x / vnorm);
        Tensors plus = c.inputs, minus = c.inputs;
        for (size_t e = 0; e < v.size(); ++e) {
          plus[i][e] += float(h) * v[e];
          minus[i][e] -= float(h) * v[e];
        }
        if (c.same_piece && (!c.same_piece(c.inputs, plus) || !c.same_piece(c.inputs, minus))) {
          continue;
        }
        // The step actually taken, after rounding the perturbed inputs to float.
        std::vector<float> step(v.size());
        for (size_t e = 0; e < v.size(); ++e) step[e] = (plus[i][e] - minus[i][e]) / 2;
        const double norm2 = Dot(step, step);
        fd = (c.loss(ReferenceBackend(), plus) - c.loss(ReferenceBackend(), minus)) / 2;
        gv = Dot(g[i], step);
        bound = std::sqrt(Dot(g[i], g[i]) * norm2);  // the largest |<g, step>| can be
        probed = true;
      }
      ASSERT_TRUE(probed) << c.op << " " << c.names[i] << ": no direction stayed on one piece";
      EXPECT_NEAR(gv, fd, 1e-3 * std::max(std::abs(fd), std::abs(gv)) + 3e-4 * bound)
          << be->name << ": " << c.op << ", gradient of " << c.names[i];
    }
  }
}

std::mt19937_64 Rng(const std::string& name) { return std::mt19937_64(CaseSeed(name)); }

TEST(OpGradients, Matmul) {
  auto rng = Rng("grad_matmul");
  const int T = 5, K = 7, N = 3;
  const std::vector<float> r = Normal(rng, size_t(T) * N);
  GradCase c{"matmul", {"in", "w"}, {Normal(rng, T * K), Normal(rng, N * K)}};
  c.loss = [=](const Backend& be, const Tensors& in) {
    std::vector<float> y(size_t(T) * N);
    be.matmul_forward(y.data(), in[0].data(), in[1].data(), T, K, N, false, -1, -1);
    return Dot(r, y);
  };
  c.grad = [=](const Backend& be, const Tensors& in) {
    Tensors g = {std::vector<float>(T * K), std::vector<float>(N * K)};
    be.matmul_backward(g[0].data(), g[1].data(), r.data(), in[0].data(), in[1].data(), T, K, N, -1,
                       -1, -1);
    return g;
  };
  CheckGradients(c, CaseSeed("grad_matmul_dirs"));
}

TEST(OpGradients, RmsNorm) {
  auto rng = Rng("grad_rmsnorm");
  const int T = 4, C = 9;
  const std::vector<float> r = Normal(rng, size_t(T) * C);
  GradCase c{"rmsnorm", {"in", "w"}, {Normal(rng, T * C), Normal(rng, C)}};
  c.loss = [=](const Backend& be, const Tensors& in) {
    std::vector<float> y(size_t(T) * C), rstd(T);
    be.rmsnorm_forward(y.data(), rstd.data(), in[0].data(), in[1].data(), T, C, 1e-6f, -1);
    return Dot(r, y);
  };
  c.grad = [=](const Backend& be, const Tensors& in) {
    std::vector<float> y(size_t(T) * C), rstd(T);
    be.rmsnorm_forward(y.data(), rstd.data(), in[0].data(), in[1].data(), T, C, 1e-6f, -1);
    Tensors g = {std::vector<float>(T * C), std::vector<float>(C)};
    be.rmsnorm_backward(g[0].data(), g[1].data(), r.data(), in[0].data(), in[1].data(), rstd.data(),
                        T, C, -1, -1);
    return g;
  };
  CheckGradients(c, CaseSeed("grad_rmsnorm_dirs"));
}

TEST(OpGradients, LayerNorm) {
  auto rng = Rng("grad_layernorm");
  const int T = 4, C = 9;
  const std::vector<float> r = Normal(rng, size_t(T) * C);
  GradCase c{"layernorm", {"in", "w", "b"}, {Normal(rng, T * C), Normal(rng, C), Normal(rng, C)}};
  auto fwd = [=](const Backend& be, const Tensors& in, std::vector<float>* mean,
                 std::vector<float>* rstd) {
    std::vector<float> y(size_t(T) * C);
    mean->resize(T);
    rstd->resize(T);
    be.layernorm_forward(y.data(), mean->data(), rstd->data(), in[0].data(), in[1].data(),
                         in[2].data(), T, C, 1e-6f);
    return y;
  };
  c.loss = [=](const Backend& be, const Tensors& in) {
    std::vector<float> mean, rstd;
    return Dot(r, fwd(be, in, &mean, &rstd));
  };
  c.grad = [=](const Backend& be, const Tensors& in) {
    std::vector<float> mean, rstd;
    fwd(be, in, &mean, &rstd);
    Tensors g = {std::vector<float>(T * C), std::vector<float>(C), std::vector<float>(C)};
    be.layernorm_backward(g[0].data(), g[1].data(), g[2].data(), r.data(), in[0].data(),
                          in[1].data(), mean.data(), rstd.data(), T, C);
    return g;
  };
  CheckGradients(c, CaseSeed("grad_layernorm_dirs"));
}

TEST(OpGradients, Embedding) {
  auto rng = Rng("grad_embedding");
  const int T = 8, C = 5, V = 4;
  const std::vector<int> tokens = UniformInts(rng, T, 0, V - 1);
  const std::vector<float> r = Normal(rng, size_t(T) * C);
  GradCase c{"embedding", {"table"}, {Normal(rng, V * C)}};
  c.loss = [=](const Backend& be, const Tensors& in) {
    std::vector<float> y(size_t(T) * C);
    be.embedding_forward(y.data(), tokens.data(), in[0].data(), T, C);
    return Dot(r, y);
  };
  c.grad = [=](const Backend& be, const Tensors&) {
    Tensors g = {std::vector<float>(V * C)};
    be.embedding_backward(g[0].data(), r.data(), tokens.data(), T, C);
    return g;
  };
  CheckGradients(c, CaseSeed("grad_embedding_dirs"));
}

// The backward of a rotation is the inverse rotation (with YaRN's amplitude, A R x backs into
// R^T A r): the op run with inverse = true on the upstream gradient.
void CheckRope(bool interleaved) {
  auto rng = Rng(interleaved ? "grad_rope_i" : "grad_rope_h");
  const int T = 6, heads = 2, head_stride = 10, col = 2, rope = 8, row = heads * head_stride;
  const cpu::RopeTable table =
      cpu::MakeRopeTable(rope, 32, 10000.0f, 4.0f, 8, 32.0f, 1.0f, 1.0f, 0.7f);
  const std::vector<int> pos = UniformInts(rng, T, 0, 31);
  const std::vector<float> r = Normal(rng, size_t(T) * row);
  auto op = [=](const Backend& be) { return interleaved ? be.rope_interleaved : be.rope_half; };
  GradCase c{interleaved ? "rope_interleaved" : "rope_half", {"x"}, {Normal(rng, T * row)}};
  c.loss = [=](const Backend& be, const Tensors& in) {
    std::vector<float> y = in[0];
    op(be)(y.data(), pos.data(), table, T, heads, row, head_stride, col, false);
    return Dot(r, y);
  };
  c.grad = [=](const Backend& be, const Tensors&) {
    Tensors g = {r};
    op(be)(g[0].data(), pos.data(), table, T, heads, row, head_stride, col, true);
    return g;
  };
  CheckGradients(c, CaseSeed(c.op + "_dirs"));
}

TEST(OpGradients, RopeInterleaved) { CheckRope(true); }
TEST(OpGradients, RopeHalf) { CheckRope(false); }

TEST(OpGradients, LogProbWithKeptSets) {
  auto rng = Rng("grad_logprob");
  const int T = 6, V = 11;
  const std::vector<int> target = {3, -1, 0, 10, 5, 5};
  const std::vector<std::vector<int>> kept = {{1, 3, 4}, {}, {}, {10}, {0, 2, 5, 9}};
  const std::vector<float> r = Normal(rng, T);
  GradCase c{"logprob", {"logits"}, {Normal(rng, T * V, 2.0f)}};
  c.loss = [=](const Backend& be, const Tensors& in) {
    std::vector<float> logp(T);
    be.logprob_forward(logp.data(), nullptr, in[0].data(), target.data(), &kept, T, V);
    return Dot(r, logp);
  };
  c.grad = [=](const Backend& be, const Tensors& in) {
    Tensors g = {std::vector<float>(T * V)};
    be.logprob_backward(g[0].data(), r.data(), in[0].data(), target.data(), &kept, T, V);
    return g;
  };
  CheckGradients(c, CaseSeed("grad_logprob_dirs"));
}

void CheckAttention(bool sparse) {
  auto rng = Rng(sparse ? "grad_attention_sparse" : "grad_attention_dense");
  const std::vector<int> lengths = {7, 1, 4};
  const int T = 12, H = 3, d_c = 5, d_r = 2, topk = 3;
  const cpu::AttentionShape sh{H, d_c, d_r, 1.0f / std::sqrt(7.0f)};
  const int D = sh.dim();
  // Sparse rows: up to topk distinct random keys of the row's prefix, -1 in the other slots.
  std::vector<int> idx;
  for (int t = 0; t < T; ++t) {
    const int n = t - SequenceStarts(lengths)[t] + 1;
    std::vector<int> keys(n), row(topk, -1);
    std::iota(keys.begin(), keys.end(), 0);
    std::shuffle(keys.begin(), keys.end(), rng);
    std::copy_n(keys.begin(), std::min(topk, n), row.begin());
    idx.insert(idx.end(), row.begin(), row.end());
  }
  auto rows = [=](const std::vector<float>& kv) {
    cpu::KeyRows k = CausalRows(kv.data(), D, lengths);
    if (sparse) {
      k.indices = idx.data();
      k.topk = topk;
    }
    return k;
  };
  const std::vector<float> r = Normal(rng, size_t(T) * H * d_c);
  GradCase c{sparse ? "attention_sparse" : "attention_dense",
             {"q", "kv"},
             {Normal(rng, T * H * D), Normal(rng, T * D)}};
  auto fwd = [=](const Backend& be, const Tensors& in, std::vector<float>* lse) {
    std::vector<float> o(size_t(T) * H * d_c);
    lse->resize(size_t(T) * H);
    be.attention_forward(o.data(), lse->data(), in[0].data(), rows(in[1]), sh, T);
    return o;
  };
  c.loss = [=](const Backend& be, const Tensors& in) {
    std::vector<float> lse;
    return Dot(r, fwd(be, in, &lse));
  };
  c.grad = [=](const Backend& be, const Tensors& in) {
    std::vector<float> lse;
    const std::vector<float> o = fwd(be, in, &lse);
    Tensors g = {std::vector<float>(in[0].size()), std::vector<float>(in[1].size())};
    be.attention_backward(g[0].data(), g[1].data(), r.data(), in[0].data(), in[1].data(),
                          rows(in[1]), o.data(), lse.data(), sh, T, T);
    return g;
  };
  CheckGradients(c, CaseSeed(c.op + "_dirs"));
}

TEST(OpGradients, AttentionDense) { CheckAttention(false); }
TEST(OpGradients, AttentionSparse) { CheckAttention(true); }

// The rows of the indexer-loss cases: two causal sequences.
struct IndexerRows {
  std::vector<int> lengths;
  int T = 0;
  std::vector<int> start_of;  // [T] first row of each row's sequence
  std::vector<int> n_keys;    // [T] keys visible to each row
  std::vector<int> support;   // [T, topk] each row's most recent keys, -1 padded
};

IndexerRows MakeIndexerRows(const std::vector<int>& lengths, int topk) {
  IndexerRows r;
  r.lengths = lengths;
  r.T = std::accumulate(lengths.begin(), lengths.end(), 0);
  r.start_of = SequenceStarts(lengths);
  for (int t = 0; t < r.T; ++t) {
    r.n_keys.push_back(t - r.start_of[t] + 1);
    std::vector<int> row(topk, -1);
    for (int j = 0; j < std::min(topk, r.n_keys[t]); ++j) row[j] = r.n_keys[t] - 1 - j;
    r.support.insert(r.support.end(), row.begin(), row.end());
  }
  return r;
}

// Fixed target distributions over each row's support (0 on a sparse support's empty slots).
std::vector<std::vector<float>> IndexerTargets(std::mt19937_64& rng, const IndexerRows& rows,
                                               bool sparse, int topk) {
  std::vector<std::vector<float>> target(rows.T);
  for (int i = 0; i < rows.T; ++i) {
    const int m = sparse ? topk : rows.n_keys[i];
    double sum = 0;
    for (int j = 0; j < m; ++j) {
      const bool valid = !sparse || rows.support[size_t(i) * topk + j] >= 0;
      target[i].push_back(valid ? std::exp(float(rng() % 100) / 50.0f) : 0.0f);
      sum += target[i].back();
    }
    for (float& p : target[i]) p = float(p / sum);
  }
  return target;
}

// q_j . k_s in double, for query q [T, HI, dI] of row i, head j, and key row `key` of k [T, dI].
double QueryKeyDot(const std::vector<float>& q, const std::vector<float>& k, int HI, int dI, int i,
                   int j, int key) {
  double d = 0;
  for (int e = 0; e < dI; ++e) {
    d += double(q[(size_t(i) * HI + j) * dI + e]) * k[size_t(key) * dI + e];
  }
  return d;
}

// Redraws each row's queries until every ReLU input q_j . k_s is clear of 0, so that random
// directions of norm h stay on x's piece.
void KeepReluInputsClear(std::mt19937_64& rng, std::vector<float>* q, const std::vector<float>& k,
                         const IndexerRows& rows, int HI, int dI) {
  for (int i = 0; i < rows.T; ++i) {
    for (int tries = 0; tries < 1000; ++tries) {
      bool clear = true;
      for (int s = 0; s < rows.n_keys[i] && clear; ++s) {
        for (int j = 0; j < HI && clear; ++j) {
          clear = std::abs(QueryKeyDot(*q, k, HI, dI, i, j, rows.start_of[i] + s)) > 0.05;
        }
      }
      if (clear) break;
      const std::vector<float> fresh = Normal(rng, size_t(HI) * dI);
      std::copy(fresh.begin(), fresh.end(), q->begin() + size_t(i) * HI * dI);
    }
  }
}

// The same ReLU pattern at inputs a and b ({q, k, w}): every query-key dot product keeps its sign.
bool SameReluPattern(const Tensors& a, const Tensors& b, const IndexerRows& rows, int HI, int dI) {
  for (int i = 0; i < rows.T; ++i) {
    for (int s = 0; s < rows.n_keys[i]; ++s) {
      for (int j = 0; j < HI; ++j) {
        const int key = rows.start_of[i] + s;
        if ((QueryKeyDot(a[0], a[1], HI, dI, i, j, key) > 0) !=
            (QueryKeyDot(b[0], b[1], HI, dI, i, j, key) > 0)) {
          return false;
        }
      }
    }
  }
  return true;
}

void CheckIndexerLoss(bool sparse) {
  auto rng = Rng(sparse ? "grad_indexer_sparse" : "grad_indexer_dense");
  const int HI = 2, dI = 4, topk = 3;
  const cpu::IndexerShape sh{HI, dI};
  const IndexerRows ir = MakeIndexerRows({6, 5}, topk);
  const int T = ir.T;
  auto rows = [=](const std::vector<float>& k) { return CausalRows(k.data(), dI, ir.lengths); };
  const std::vector<std::vector<float>> target = IndexerTargets(rng, ir, sparse, topk);
  cpu::TargetFn fn = [target](int row, float* p) {
    std::copy(target[row].begin(), target[row].end(), p);
  };
  GradCase c{sparse ? "indexer_loss_sparse" : "indexer_loss_dense",
             {"q", "k", "w"},
             {Normal(rng, T * HI * dI), Normal(rng, T * dI), Normal(rng, T * HI)}};
  KeepReluInputsClear(rng, &c.inputs[0], c.inputs[1], ir, HI, dI);
  c.loss = [=](const Backend& be, const Tensors& in) {
    return 0.5 * be.indexer_loss(nullptr, nullptr, nullptr, in[0].data(), in[1].data(),
                                 in[2].data(), rows(in[1]), sparse ? ir.support.data() : nullptr,
                                 topk, fn, sh, T, T, 0.5f)
                     .kl_sum;
  };
  c.grad = [=](const Backend& be, const Tensors& in) {
    Tensors g = {std::vector<float>(in[0].size()), std::vector<float>(in[1].size()),
                 std::vector<float>(in[2].size())};
    be.indexer_loss(g[0].data(), g[1].data(), g[2].data(), in[0].data(), in[1].data(), in[2].data(),
                    rows(in[1]), sparse ? ir.support.data() : nullptr, topk, fn, sh, T, T, 0.5f);
    return g;
  };
  c.same_piece = [=](const Tensors& a, const Tensors& b) {
    return SameReluPattern(a, b, ir, HI, dI);
  };
  CheckGradients(c, CaseSeed(c.op + "_dirs"));
}

TEST(OpGradients, IndexerLossDense) { CheckIndexerLoss(false); }
TEST(OpGradients, IndexerLossSparse) { CheckIndexerLoss(true); }

TEST(OpGradients, Mlp) {
  auto rng = Rng("grad_mlp");
  const int T = 4, D = 6, F = 5;
  const std::vector<float> r = Normal(rng, size_t(T) * D);
  GradCase c{"mlp",
             {"x", "gate", "up", "down"},
             {Normal(rng, T * D), Normal(rng, F * D, 0.5f), Normal(rng, F * D, 0.5f),
              Normal(rng, D * F, 0.5f)}};
  auto view = [=](const Tensors& in) {
    return MlpTensors{const_cast<float*>(in[1].data()), const_cast<float*>(in[2].data()),
                      const_cast<float*>(in[3].data()), F};
  };
  c.loss = [=](const Backend& be, const Tensors& in) {
    std::vector<float> y(size_t(T) * D);
    cpu::MlpActs a;
    be.mlp_forward(y.data(), &a, in[0].data(), view(in), T, D, false);
    return Dot(r, y);
  };
  c.grad = [=](const Backend& be, const Tensors& in) {
    std::vector<float> y(size_t(T) * D);
    cpu::MlpActs a;
    be.mlp_forward(y.data(), &a, in[0].data(), view(in), T, D, false);
    Tensors g = {std::vector<float>(T * D), std::vector<float>(F * D), std::vector<float>(F * D),
                 std::vector<float>(D * F)};
    be.mlp_backward(g[0].data(), MlpTensors{g[1].data(), g[2].data(), g[3].data(), F}, r.data(),
                    in[0].data(), a, view(in), T, D);
    return g;
  };
  CheckGradients(c, CaseSeed("grad_mlp_dirs"));
}

// MoE with replayed routing (keep routing): the combine weights still come from the router, so
// the router, every expert, the shared expert and the input all get gradients.
TEST(OpGradients, MoeWithForcedRouting) {
  auto rng = Rng("grad_moe");
  ModelDims d = testing::SmallMoeDims(6, 4, 2, 1, 1, 1, true, 3);
  d.init_std = 0.4f;
  const int T = 5;
  auto table = std::make_shared<ParamTable>(d);
  std::vector<float> params(table->total_floats());
  InitParameters(d, *table, 3, params.data());
  std::vector<int> forced;
  for (int t = 0; t < T; ++t) {
    forced.push_back(t % 4);
    forced.push_back((t + 1 + t / 2) % 4);
  }
  const std::vector<float> r = Normal(rng, size_t(T) * d.d_model);
  GradCase c{"moe", {"x", "params"}, {Normal(rng, T * d.d_model), params}};
  auto fwd = [=](const Backend& be, const Tensors& in, cpu::MoeActs* a) {
    ModelTensors w = BindTensors(d, *table, const_cast<float*>(in[1].data()));
    std::vector<float> y(size_t(T) * d.d_model);
    be.moe_forward(y.data(), a, in[0].data(), w.layers[1], d, forced.data(), T);
    return y;
  };
  c.loss = [=](const Backend& be, const Tensors& in) {
    cpu::MoeActs a;
    return Dot(r, fwd(be, in, &a));
  };
  c.grad = [=](const Backend& be, const Tensors& in) {
    cpu::MoeActs a;
    fwd(be, in, &a);
    Tensors g = {std::vector<float>(in[0].size()), std::vector<float>(in[1].size())};
    ModelTensors w = BindTensors(d, *table, const_cast<float*>(in[1].data()));
    ModelTensors gw = BindTensors(d, *table, g[1].data());
    be.moe_backward(g[0].data(), gw.layers[1], r.data(), in[0].data(), a, w.layers[1], d, T);
    return g;
  };
  CheckGradients(c, CaseSeed("grad_moe_dirs"));
}

}  // namespace
}  // namespace dsarl::model::optest

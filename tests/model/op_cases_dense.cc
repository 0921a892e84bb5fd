// Cases for the dense ops: gemm, matmul, RMSNorm, LayerNorm, embedding, both RoPEs, log-prob, the
// SwiGLU MLP and MoE. Tolerances: 2e-6 for element-wise ops, 1e-5 for reductions and matrix
// products (float sums of up to a few hundred terms in any order), 2e-5 for composites.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/params.h"
#include "tests/model/model_test_util.h"
#include "tests/model/near_ties.h"
#include "tests/model/op_cases.h"

namespace dsarl::model::optest {

OutputSpec Written(const std::string& name, size_t size) {
  return OutputSpec{.name = name, .size = size, .init = Init::kPoison};
}

OutputSpec AddedInto(const std::string& name, size_t size) {
  return OutputSpec{.name = name, .size = size, .init = Init::kRandom};
}

OutputSpec Strided(const std::string& name, int rows, int cols, int ld, Init init) {
  OutputSpec s{.name = name, .size = size_t(rows) * ld, .init = init};
  s.gap.assign(s.size, false);
  for (size_t i = 0; i < s.size; ++i) s.gap[i] = int(i % ld) >= cols;
  return s;
}

namespace {

constexpr double kElementwise = 2e-6, kReduction = 1e-5, kComposite = 2e-5;

// ---- gemm ---------------------------------------------------------------------------------------

CaseDef GemmCase(int M, int N, int K, bool ta, bool tb, float alpha, float beta, int pad) {
  const std::string name =
      absl::StrCat("gemm_M", M, "_N", N, "_K", K, ta ? "_ta" : "", tb ? "_tb" : "",
                   beta != 0 ? "_beta" : "", pad ? "_strided" : "");
  return {name, [=](std::mt19937_64& rng) {
            const int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            auto a = std::make_shared<std::vector<float>>(Normal(rng, size_t(ta ? K : M) * lda));
            auto b = std::make_shared<std::vector<float>>(Normal(rng, size_t(tb ? N : K) * ldb));
            OpCase c{.op = "gemm",
                     .shape = absl::StrFormat("M%d N%d K%d%s%s beta %g ld+%d", M, N, K,
                                              ta ? " A^T" : "", tb ? " B^T" : "", beta, pad),
                     .tol = kReduction};
            c.outputs = {Strided("C", M, N, ldc, beta == 0 ? Init::kPoison : Init::kRandom)};
            c.run = [=](const Backend& be, Outputs* o) {
              be.gemm(ta, tb, M, N, K, alpha, a->data(), lda, b->data(), ldb, beta, o->F(0), ldc);
            };
            return c;
          }};
}

// ---- matmul -------------------------------------------------------------------------------------

CaseDef MatmulForwardCase(int T, int K, int N, bool accumulate, int pad) {
  const std::string name = absl::StrCat("matmul_forward_T", T, "_K", K, "_N", N,
                                        accumulate ? "_accumulate" : "", pad ? "_strided" : "");
  return {name, [=](std::mt19937_64& rng) {
            const int ld_in = K + pad, ld_out = N + 2 * pad;
            auto in = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * ld_in));
            auto w = std::make_shared<std::vector<float>>(Normal(rng, size_t(N) * K));
            OpCase c{.op = "matmul_forward",
                     .shape = absl::StrFormat("T%d K%d N%d%s ld+%d", T, K, N,
                                              accumulate ? " +=" : "", pad),
                     .tol = kReduction};
            c.outputs = {Strided("out", T, N, ld_out, accumulate ? Init::kRandom : Init::kPoison)};
            c.run = [=](const Backend& be, Outputs* o) {
              be.matmul_forward(o->F(0), in->data(), w->data(), T, K, N, accumulate,
                                pad ? ld_out : -1, pad ? ld_in : -1);
            };
            return c;
          }};
}

// which: 3 = din and dw, 1 = din only, 2 = dw only.
CaseDef MatmulBackwardCase(int T, int K, int N, int which, int pad) {
  const std::string name = absl::StrCat("matmul_backward_T", T, "_K", K, "_N", N, "_grads", which,
                                        pad ? "_strided" : "");
  return {name, [=](std::mt19937_64& rng) {
            const int ld_dout = N + pad, ld_in = K + 2 * pad, ld_din = K + 3 * pad;
            auto dout = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * ld_dout));
            auto in = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * ld_in));
            auto w = std::make_shared<std::vector<float>>(Normal(rng, size_t(N) * K));
            OpCase c{.op = "matmul_backward",
                     .shape = absl::StrFormat("T%d K%d N%d %s ld+%d", T, K, N,
                                              which == 3   ? "din+dw"
                                              : which == 1 ? "din"
                                                           : "dw",
                                              pad),
                     .tol = kReduction};
            if (which & 1) c.outputs.push_back(Strided("din", T, K, ld_din, Init::kRandom));
            if (which & 2) c.outputs.push_back(AddedInto("dw", size_t(N) * K));
            c.run = [=](const Backend& be, Outputs* o) {
              float* din = (which & 1) ? o->F(0) : nullptr;
              float* dw = (which & 2) ? o->F(which == 3 ? 1 : 0) : nullptr;
              be.matmul_backward(din, dw, dout->data(), in->data(), w->data(), T, K, N,
                                 pad ? ld_dout : -1, pad ? ld_in : -1, pad ? ld_din : -1);
            };
            return c;
          }};
}

// ---- norms --------------------------------------------------------------------------------------

std::vector<float> NearOne(std::mt19937_64& rng, size_t n) {
  std::vector<float> v = Normal(rng, n, 0.3f);
  for (float& x : v) x += 1.0f;
  return v;
}

CaseDef RmsNormCase(int T, int C, int pad, bool backward, int which) {
  const std::string name =
      absl::StrCat("rmsnorm_", backward ? "backward" : "forward", "_T", T, "_C", C,
                   pad ? "_strided" : "", backward ? absl::StrCat("_grads", which) : "");
  return {name, [=](std::mt19937_64& rng) {
            const int ld_in = C + pad, ld_din = C + 2 * pad;
            auto in = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * ld_in, 2.0f));
            auto w = std::make_shared<std::vector<float>>(NearOne(rng, C));
            auto dout = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * C));
            auto rstd = std::make_shared<std::vector<float>>(T);
            std::vector<float> scratch(size_t(T) * C);
            ReferenceBackend().rmsnorm_forward(scratch.data(), rstd->data(), in->data(), w->data(),
                                               T, C, 1e-6f, ld_in);
            OpCase c{.op = backward ? "rmsnorm_backward" : "rmsnorm_forward",
                     .shape = absl::StrFormat("T%d C%d ld+%d", T, C, pad),
                     .tol = backward ? kReduction : kElementwise};
            if (!backward) {
              c.outputs = {Written("out", size_t(T) * C), Written("rstd", T)};
              c.run = [=](const Backend& be, Outputs* o) {
                be.rmsnorm_forward(o->F(0), o->F(1), in->data(), w->data(), T, C, 1e-6f,
                                   pad ? ld_in : -1);
              };
              return c;
            }
            if (which & 1) c.outputs.push_back(Strided("din", T, C, ld_din, Init::kRandom));
            if (which & 2) c.outputs.push_back(AddedInto("dw", C));
            c.run = [=](const Backend& be, Outputs* o) {
              float* din = (which & 1) ? o->F(0) : nullptr;
              float* dw = (which & 2) ? o->F(which == 3 ? 1 : 0) : nullptr;
              be.rmsnorm_backward(din, dw, dout->data(), in->data(), w->data(), rstd->data(), T, C,
                                  pad ? ld_in : -1, pad ? ld_din : -1);
            };
            return c;
          }};
}

CaseDef LayerNormCase(int T, int C, bool backward, int which) {
  const std::string name = absl::StrCat("layernorm_", backward ? "backward" : "forward", "_T", T,
                                        "_C", C, backward ? absl::StrCat("_grads", which) : "");
  return {name, [=](std::mt19937_64& rng) {
            auto in = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * C, 2.0f));
            for (float& x : *in) x += 0.5f;  // a mean to remove
            auto w = std::make_shared<std::vector<float>>(NearOne(rng, C));
            auto b = std::make_shared<std::vector<float>>(Normal(rng, C, 0.3f));
            auto dout = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * C));
            auto mean = std::make_shared<std::vector<float>>(T);
            auto rstd = std::make_shared<std::vector<float>>(T);
            std::vector<float> scratch(size_t(T) * C);
            ReferenceBackend().layernorm_forward(scratch.data(), mean->data(), rstd->data(),
                                                 in->data(), w->data(), b->data(), T, C, 1e-6f);
            OpCase c{.op = backward ? "layernorm_backward" : "layernorm_forward",
                     .shape = absl::StrFormat("T%d C%d", T, C),
                     .tol = backward ? kReduction : kElementwise};
            if (!backward) {
              c.outputs = {Written("out", size_t(T) * C), Written("mean", T), Written("rstd", T)};
              c.run = [=](const Backend& be, Outputs* o) {
                be.layernorm_forward(o->F(0), o->F(1), o->F(2), in->data(), w->data(), b->data(), T,
                                     C, 1e-6f);
              };
              return c;
            }
            // which: bit 1 din, bit 2 dw, bit 4 db.
            std::vector<int> slot(3, -1);
            int next = 0;
            if (which & 1) {
              slot[0] = next++;
              c.outputs.push_back(AddedInto("din", size_t(T) * C));
            }
            if (which & 2) {
              slot[1] = next++;
              c.outputs.push_back(AddedInto("dw", C));
            }
            if (which & 4) {
              slot[2] = next++;
              c.outputs.push_back(AddedInto("db", C));
            }
            c.run = [=](const Backend& be, Outputs* o) {
              auto at = [&](int k) { return slot[k] < 0 ? nullptr : o->F(slot[k]); };
              be.layernorm_backward(at(0), at(1), at(2), dout->data(), in->data(), w->data(),
                                    mean->data(), rstd->data(), T, C);
            };
            return c;
          }};
}

// ---- embedding ----------------------------------------------------------------------------------

CaseDef EmbeddingCase(int T, int C, int V, bool backward) {
  const std::string name =
      absl::StrCat("embedding_", backward ? "backward" : "forward", "_T", T, "_C", C, "_V", V);
  return {name, [=](std::mt19937_64& rng) {
            // Few distinct tokens, so the backward adds several rows into one.
            auto tokens = std::make_shared<std::vector<int>>(UniformInts(rng, T, 0, V - 1));
            auto table = std::make_shared<std::vector<float>>(Normal(rng, size_t(V) * C));
            auto dout = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * C));
            OpCase c{.op = backward ? "embedding_backward" : "embedding_forward",
                     .shape = absl::StrFormat("T%d C%d V%d", T, C, V),
                     .tol = kElementwise};
            if (!backward) {
              c.outputs = {Written("out", size_t(T) * C)};
              c.run = [=](const Backend& be, Outputs* o) {
                be.embedding_forward(o->F(0), tokens->data(), table->data(), T, C);
              };
            } else {
              c.outputs = {AddedInto("dtable", size_t(V) * C)};
              c.run = [=](const Backend& be, Outputs* o) {
                be.embedding_backward(o->F(0), dout->data(), tokens->data(), T, C);
              };
            }
            return c;
          }};
}

// ---- rope ---------------------------------------------------------------------------------------

struct RopeShape {
  int T, heads, rope, head_stride, col, extra_row;  // row stride = heads * head_stride + extra_row
  bool inverse, yarn;
};

CaseDef RopeCase(bool interleaved, RopeShape s) {
  const std::string name =
      absl::StrCat("rope_", interleaved ? "interleaved" : "half", "_T", s.T, "_H", s.heads, "_r",
                   s.rope, "_col", s.col, s.inverse ? "_inverse" : "", s.yarn ? "_yarn" : "");
  return {name, [=](std::mt19937_64& rng) {
            constexpr int kMaxPos = 96;
            auto table = std::make_shared<cpu::RopeTable>(cpu::MakeRopeTable(
                s.rope, kMaxPos, 10000.0f, s.yarn ? 4.0f : 1.0f, 24, 32.0f, 1.0f, 1.0f, 0.7f));
            auto pos = std::make_shared<std::vector<int>>(UniformInts(rng, s.T, 0, kMaxPos - 1));
            const int row_stride = s.heads * s.head_stride + s.extra_row;
            OpCase c{.op = interleaved ? "rope_interleaved" : "rope_half",
                     .shape = absl::StrFormat("T%d heads %d rope %d stride %d col %d%s%s", s.T,
                                              s.heads, s.rope, s.head_stride, s.col,
                                              s.inverse ? " inverse" : "", s.yarn ? " yarn" : ""),
                     .tol = kElementwise};
            // In place: the dims it does not rotate must come back unchanged.
            c.outputs = {OutputSpec{.name = "x",
                                    .size = size_t(s.T) * row_stride,
                                    .init = Init::kGiven,
                                    .given = Normal(rng, size_t(s.T) * row_stride)}};
            c.run = [=](const Backend& be, Outputs* o) {
              (interleaved ? be.rope_interleaved : be.rope_half)(o->F(0), pos->data(), *table, s.T,
                                                                 s.heads, row_stride, s.head_stride,
                                                                 s.col, s.inverse);
            };
            return c;
          }};
}

// ---- log-prob -----------------------------------------------------------------------------------

// kept: 0 none, 1 a kept set on some positions (some empty, one of a single token, a vector
// shorter than T).
CaseDef LogProbCase(int T, int V, int kept_mode, bool entropy, bool backward) {
  const std::string name =
      absl::StrCat("logprob_", backward ? "backward" : "forward", "_T", T, "_V", V,
                   kept_mode ? "_kept" : "", entropy ? "_entropy" : "");
  return {name, [=](std::mt19937_64& rng) {
            auto logits = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * V, 3.0f));
            auto target = std::make_shared<std::vector<int>>(UniformInts(rng, T, 0, V - 1));
            if (T > 2) (*target)[1] = -1;  // a position without a target
            auto kept = std::make_shared<std::vector<std::vector<int>>>();
            if (kept_mode) {
              kept->resize(std::max(1, T - 1));  // the last position has no entry: all V
              for (int t = 0; t < int(kept->size()); ++t) {
                if (t % 3 == 2 || (*target)[t] < 0) continue;  // empty: all V
                std::vector<int> set = {(*target)[t]};
                if (t % 3 == 1) {
                  for (int v : UniformInts(rng, std::min(V, 20), 0, V - 1)) {
                    if (std::find(set.begin(), set.end(), v) == set.end()) set.push_back(v);
                  }
                }
                std::sort(set.begin(), set.end());
                (*kept)[t] = set;
              }
            }
            auto dlogp = std::make_shared<std::vector<float>>(Normal(rng, T));
            if (T > 3) (*dlogp)[3] = 0.0f;
            OpCase c{.op = backward ? "logprob_backward" : "logprob_forward",
                     .shape = absl::StrFormat("T%d V%d%s%s", T, V, kept_mode ? " kept sets" : "",
                                              entropy ? " entropy" : ""),
                     .tol = kReduction};
            if (!backward) {
              c.outputs = {Written("logp", T)};
              if (entropy) c.outputs.push_back(Written("entropy", T));
              c.run = [=](const Backend& be, Outputs* o) {
                be.logprob_forward(o->F(0), entropy ? o->F(1) : nullptr, logits->data(),
                                   target->data(), kept_mode ? kept.get() : nullptr, T, V);
              };
            } else {
              c.outputs = {AddedInto("dlogits", size_t(T) * V)};
              c.run = [=](const Backend& be, Outputs* o) {
                be.logprob_backward(o->F(0), dlogp->data(), logits->data(), target->data(),
                                    kept_mode ? kept.get() : nullptr, T, V);
              };
            }
            return c;
          }};
}

// ---- MLP ----------------------------------------------------------------------------------------

struct MlpWeights {
  std::vector<float> gate, up, down;
  MlpTensors View() {
    return MlpTensors{gate.data(), up.data(), down.data(), int(gate.size() / D)};
  }
  size_t D = 0;
};

std::shared_ptr<MlpWeights> DrawMlp(std::mt19937_64& rng, int D, int F) {
  auto w = std::make_shared<MlpWeights>();
  w->D = D;
  w->gate = Normal(rng, size_t(F) * D, 1.0f / std::sqrt(float(D)));
  w->up = Normal(rng, size_t(F) * D, 1.0f / std::sqrt(float(D)));
  w->down = Normal(rng, size_t(D) * F, 1.0f / std::sqrt(float(F)));
  return w;
}

CaseDef MlpCase(int T, int D, int F, bool accumulate, bool backward) {
  const std::string name = absl::StrCat("mlp_", backward ? "backward" : "forward", "_T", T, "_D", D,
                                        "_F", F, accumulate ? "_accumulate" : "");
  return {name, [=](std::mt19937_64& rng) {
            auto w = DrawMlp(rng, D, F);
            auto x = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * D));
            auto dy = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * D));
            auto acts = std::make_shared<cpu::MlpActs>();
            std::vector<float> y(size_t(T) * D);
            ReferenceBackend().mlp_forward(y.data(), acts.get(), x->data(), w->View(), T, D, false);
            OpCase c{.op = backward ? "mlp_backward" : "mlp_forward",
                     .shape = absl::StrFormat("T%d D%d F%d%s", T, D, F, accumulate ? " +=" : ""),
                     .tol = kComposite};
            if (!backward) {
              c.outputs = {OutputSpec{.name = "y",
                                      .size = size_t(T) * D,
                                      .init = accumulate ? Init::kRandom : Init::kPoison}};
              c.run = [=](const Backend& be, Outputs* o) {
                cpu::MlpActs a;
                be.mlp_forward(o->F(0), &a, x->data(), w->View(), T, D, accumulate);
                o->extra["acts.g"] = a.g;
                o->extra["acts.u"] = a.u;
                o->extra["acts.h"] = a.h;
              };
              return c;
            }
            c.outputs = {AddedInto("dx", size_t(T) * D), AddedInto("dgate", size_t(F) * D),
                         AddedInto("dup", size_t(F) * D), AddedInto("ddown", size_t(D) * F)};
            c.run = [=](const Backend& be, Outputs* o) {
              MlpTensors g{o->F(1), o->F(2), o->F(3), F};
              be.mlp_backward(o->F(0), g, dy->data(), x->data(), *acts, w->View(), T, D);
            };
            return c;
          }};
}

// ---- MoE ----------------------------------------------------------------------------------------

struct MoeShape {
  int T, D, experts, per_token, shared, groups, topk_groups;
  bool norm_topk;
  bool forced;  // replay given experts instead of routing
};

// A whole model's parameters for the dims, of which the MoE layer's tensors are used.
struct MoeSetup {
  ModelDims d;
  std::unique_ptr<ParamTable> table;
  std::vector<float> params;
  ModelTensors w;
  int layer = 0;
};

std::shared_ptr<MoeSetup> DrawMoe(std::mt19937_64& rng, const MoeShape& s) {
  auto m = std::make_shared<MoeSetup>();
  ModelDims& d = m->d;
  d = testing::SmallMoeDims(s.D, s.experts, s.per_token, s.shared, s.groups, s.topk_groups,
                            s.norm_topk, 6);
  d.init_std = 1.0f / std::sqrt(float(s.D));
  m->layer = 1;
  m->table = std::make_unique<ParamTable>(d);
  m->params.resize(m->table->total_floats());
  InitParameters(d, *m->table, rng(), m->params.data());
  m->w = BindTensors(d, *m->table, m->params.data());
  // A selection bias that matters (it starts at zero in a fresh model).
  const std::vector<float> bias = Normal(rng, s.experts, 0.1f);
  std::copy(bias.begin(), bias.end(), m->w.layers[m->layer].router_bias);
  return m;
}

// Routing is a discrete choice: the inputs are redrawn until no token's routing (groups, experts,
// their order) could change under a relative perturbation of 1e-4 of its scores (float sums differ
// by ~1e-7), so every backend must choose exactly the reference's experts. Near-tie behaviour of
// top-k choices is covered by the indexer selection cases.
bool RoutingWellSeparated(const MoeSetup& m, const std::vector<float>& x, int T) {
  LayerActs a;
  std::vector<float> y(size_t(T) * m.d.d_model);
  ReferenceBackend().moe_forward(y.data(), &a.moe, x.data(), m.w.layers[m.layer], m.d, nullptr, T);
  return dsarl::testing::RouterNearTieRows(a, m.w.layers[m.layer], m.d, 1e-4).empty();
}

CaseDef MoeCase(MoeShape s, bool backward) {
  const std::string name =
      absl::StrCat("moe_", backward ? "backward" : "forward", "_T", s.T, "_D", s.D, "_E", s.experts,
                   "_k", s.per_token, "_shared", s.shared, "_groups", s.groups,
                   s.norm_topk ? "" : "_unnormalized", s.forced ? "_forced" : "");
  return {name, [=](std::mt19937_64& rng) {
            auto m = DrawMoe(rng, s);
            auto x = std::make_shared<std::vector<float>>(Normal(rng, size_t(s.T) * s.D));
            for (int tries = 0; !s.forced && !RoutingWellSeparated(*m, *x, s.T); ++tries) {
              if (tries == 1000) break;  // the comparison will say so
              *x = Normal(rng, size_t(s.T) * s.D);
            }
            auto forced = std::make_shared<std::vector<int>>();
            if (s.forced) {
              for (int t = 0; t < s.T; ++t) {
                std::vector<int> e(s.experts);
                std::iota(e.begin(), e.end(), 0);
                std::shuffle(e.begin(), e.end(), rng);
                forced->insert(forced->end(), e.begin(), e.begin() + s.per_token);
              }
            }
            const int* fp = s.forced ? forced->data() : nullptr;
            auto dy = std::make_shared<std::vector<float>>(Normal(rng, size_t(s.T) * s.D));
            auto acts = std::make_shared<cpu::MoeActs>();
            std::vector<float> y(size_t(s.T) * s.D);
            ReferenceBackend().moe_forward(y.data(), acts.get(), x->data(), m->w.layers[m->layer],
                                           m->d, fp, s.T);
            OpCase c{.op = backward ? "moe_backward" : "moe_forward",
                     .shape = absl::StrFormat("T%d D%d E%d top-%d shared %d groups %d/%d%s%s", s.T,
                                              s.D, s.experts, s.per_token, s.shared, s.topk_groups,
                                              s.groups, s.norm_topk ? "" : " unnormalized",
                                              s.forced ? " forced" : ""),
                     .tol = kComposite};
            if (!backward) {
              c.outputs = {Written("y", size_t(s.T) * s.D)};
              c.run = [=](const Backend& be, Outputs* o) {
                cpu::MoeActs a;
                be.moe_forward(o->F(0), &a, x->data(), m->w.layers[m->layer], m->d,
                               s.forced ? forced->data() : nullptr, s.T);
                o->extra["acts.scores"] = a.scores;
                o->extra["acts.weights"] = a.weights;
                o->extra_int["acts.experts"] = a.experts;
              };
              return c;
            }
            // The gradient of every parameter of the model: only the MoE layer's may change.
            c.outputs = {AddedInto("dx", size_t(s.T) * s.D),
                         AddedInto("dparams", m->table->total_floats())};
            c.run = [=](const Backend& be, Outputs* o) {
              ModelTensors g = BindTensors(m->d, *m->table, o->F(1));
              be.moe_backward(o->F(0), g.layers[m->layer], dy->data(), x->data(), *acts,
                              m->w.layers[m->layer], m->d, s.T);
            };
            return c;
          }};
}

}  // namespace

std::vector<CaseDef> DenseOpCases() {
  std::vector<CaseDef> v;
  // gemm: every transpose combination, tiny and odd sizes, strides, beta 0 (C is not read) and 1.
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      v.push_back(GemmCase(1, 1, 1, ta, tb, 1.0f, 0.0f, 0));
      v.push_back(GemmCase(3, 5, 7, ta, tb, 0.5f, 1.0f, 3));
      v.push_back(GemmCase(37, 65, 129, ta, tb, 1.0f, 0.0f, 5));
    }
  }
  v.push_back(GemmCase(0, 5, 3, false, true, 1.0f, 0.0f, 0));
  v.push_back(GemmCase(64, 96, 256, false, true, 0.125f, 1.0f, 0));
  // matmul
  v.push_back(MatmulForwardCase(1, 1, 1, false, 0));
  v.push_back(MatmulForwardCase(1, 32, 300, false, 0));
  v.push_back(MatmulForwardCase(7, 13, 5, true, 3));
  v.push_back(MatmulForwardCase(130, 96, 160, false, 0));
  v.push_back(MatmulForwardCase(33, 17, 70, true, 2));
  v.push_back(MatmulForwardCase(0, 8, 8, false, 0));
  for (int which : {1, 2, 3}) {
    v.push_back(MatmulBackwardCase(1, 1, 1, which, 0));
    v.push_back(MatmulBackwardCase(9, 13, 5, which, 3));
    v.push_back(MatmulBackwardCase(130, 96, 160, which, 0));
  }
  // norms: one row, widths off the vector width, the threaded path (T * C >= 32K), strides.
  for (bool bwd : {false, true}) {
    for (int which : bwd ? std::vector<int>{1, 2, 3} : std::vector<int>{3}) {
      // C = 2, not 1: with one element RMSNorm's input gradient r w dy (1 - x^2 r^2) is pure
      // cancellation (exactly r w dy eps / (x^2 + eps)), which float cannot resolve.
      v.push_back(RmsNormCase(1, 2, 0, bwd, which));
      v.push_back(RmsNormCase(3, 13, 0, bwd, which));
      v.push_back(RmsNormCase(300, 128, 0, bwd, which));
      v.push_back(RmsNormCase(5, 12, 4, bwd, which));
    }
  }
  v.push_back(LayerNormCase(1, 1, false, 0));
  v.push_back(LayerNormCase(3, 13, false, 0));
  v.push_back(LayerNormCase(300, 128, false, 0));
  for (int which : {1, 2, 4, 7}) {
    v.push_back(LayerNormCase(1, 3, true, which));
    v.push_back(LayerNormCase(17, 24, true, which));
  }
  v.push_back(LayerNormCase(300, 128, true, 7));
  // embedding: repeated tokens in the backward.
  for (bool bwd : {false, true}) {
    v.push_back(EmbeddingCase(1, 1, 1, bwd));
    v.push_back(EmbeddingCase(40, 13, 5, bwd));
    v.push_back(EmbeddingCase(200, 64, 300, bwd));
  }
  // rope: both pairings, one row, odd head counts, columns inside a head, row padding, YaRN.
  for (bool inter : {true, false}) {
    v.push_back(RopeCase(inter, {1, 1, 2, 2, 0, 0, false, false}));
    v.push_back(RopeCase(inter, {5, 3, 6, 11, 4, 3, false, false}));
    v.push_back(RopeCase(inter, {9, 2, 16, 16, 0, 0, true, true}));
    v.push_back(RopeCase(inter, {300, 4, 16, 48, 32, 0, false, true}));
  }
  // log-prob: one position of one token, kept sets, entropy, the threaded path (T * V >= 32K).
  for (bool bwd : {false, true}) {
    v.push_back(LogProbCase(1, 1, 0, !bwd, bwd));
    v.push_back(LogProbCase(7, 300, 1, !bwd, bwd));
    v.push_back(LogProbCase(128, 300, 0, false, bwd));
    v.push_back(LogProbCase(130, 320, 1, !bwd, bwd));
  }
  // MLP
  for (bool bwd : {false, true}) {
    v.push_back(MlpCase(1, 1, 1, false, bwd));
    v.push_back(MlpCase(5, 13, 7, !bwd, bwd));
    v.push_back(MlpCase(64, 96, 160, false, bwd));
  }
  // MoE: free and forced routing, groups, no shared expert, unnormalized weights, one token.
  for (bool bwd : {false, true}) {
    v.push_back(MoeCase({1, 8, 4, 2, 1, 1, 1, true, false}, bwd));
    v.push_back(MoeCase({40, 16, 8, 2, 1, 2, 1, true, false}, bwd));
    v.push_back(MoeCase({23, 12, 6, 3, 0, 3, 2, false, false}, bwd));
    v.push_back(MoeCase({30, 16, 8, 2, 1, 1, 1, true, true}, bwd));
  }
  return v;
}

}  // namespace dsarl::model::optest

// Cases for attention (dense and sparse, forward and backward), the indexer's attention target,
// indexer selection and the indexer loss. Tolerance 5e-5 for attention (softmax of long rows, in
// blocks), 1e-4 for the indexer loss gradients (a softmax over the support, through ReLUs).
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tests/model/op_cases.h"

namespace dsarl::model::optest {
namespace {

using cpu::AttentionShape;
using cpu::IndexerShape;
using cpu::KeyRows;

constexpr double kAttention = 5e-5, kIndexerLoss = 1e-4, kSelectionTie = 1e-4;

std::string Lengths(const std::vector<int>& lengths) { return absl::StrJoin(lengths, "_"); }

// How sparse rows get their index lists.
enum class Sel {
  kDense,  // no index lists
  kTies,   // the top-k of scores with many ties (TopKRowReference)
  kFull,   // every visible key, then -1: top-k covers every row
  kHoles,  // distinct random keys in any order, with -1 and out-of-range slots; row 0 has none
};

const char* SelName(Sel s) {
  switch (s) {
    case Sel::kDense:
      return "dense";
    case Sel::kTies:
      return "sparse";
    case Sel::kFull:
      return "sparse_full";
    case Sel::kHoles:
      return "sparse_holes";
  }
  return "";
}

std::vector<int> IndexLists(std::mt19937_64& rng, Sel sel, const KeyRows& rows, int topk) {
  std::vector<int> idx;
  const int T = rows.n_keys.size();
  for (int i = 0; i < T; ++i) {
    const int n = rows.n_keys[i];
    std::vector<int> row(topk, -1);
    switch (sel) {
      case Sel::kDense:
        return {};
      case Sel::kTies: {
        std::vector<float> scores(n);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (float& x : scores) x = std::floor(nd(rng) * 2);  // many ties
        cpu::TopKRowReference(row.data(), scores.data(), n, topk);
        break;
      }
      case Sel::kFull:
        for (int j = 0; j < std::min(n, topk); ++j) row[j] = j;
        break;
      case Sel::kHoles: {
        if (i == 0) break;  // a row with no valid slot
        std::vector<int> keys(n);
        std::iota(keys.begin(), keys.end(), 0);
        std::shuffle(keys.begin(), keys.end(), rng);
        for (int j = 0; j < topk; ++j) {
          const int kind = rng() % 4;
          row[j] = kind == 0 ? -1 : kind == 1 ? n + int(rng() % 3) : (j < n ? keys[j] : -1);
        }
        break;
      }
    }
    idx.insert(idx.end(), row.begin(), row.end());
  }
  return idx;
}

// ---- attention ----------------------------------------------------------------------------------

struct AttnShape {
  std::vector<int> lengths;
  int heads, d_c, d_r;
  Sel sel;
  int topk;
};

std::string AttnName(const char* op, const AttnShape& s) {
  return absl::StrCat(op, "_", SelName(s.sel), "_L", Lengths(s.lengths), "_H", s.heads, "_dc",
                      s.d_c, "_dr", s.d_r, s.sel == Sel::kDense ? "" : absl::StrCat("_k", s.topk));
}

std::string AttnShapeText(const AttnShape& s) {
  return absl::StrFormat("lengths %s H%d d_c %d d_r %d %s%s", Lengths(s.lengths), s.heads, s.d_c,
                         s.d_r, SelName(s.sel),
                         s.sel == Sel::kDense ? "" : absl::StrCat(" top-", s.topk));
}

struct AttnInputs {
  AttentionShape sh;
  int T = 0;
  std::vector<float> q, kv, d_o, o, lse;  // o, lse: the reference forward's
  std::vector<int> idx;
  KeyRows keys;
};

std::shared_ptr<AttnInputs> DrawAttention(std::mt19937_64& rng, const AttnShape& s) {
  auto in = std::make_shared<AttnInputs>();
  in->sh = AttentionShape{s.heads, s.d_c, s.d_r, 1.0f / std::sqrt(float(s.d_c + s.d_r))};
  const int D = in->sh.dim();
  for (int l : s.lengths) in->T += l;
  in->q = Normal(rng, size_t(in->T) * s.heads * D);
  in->kv = Normal(rng, size_t(in->T) * D);
  in->d_o = Normal(rng, size_t(in->T) * s.heads * s.d_c);
  in->keys = CausalRows(in->kv.data(), D, s.lengths);
  in->idx = IndexLists(rng, s.sel, in->keys, s.topk);
  if (s.sel != Sel::kDense) {
    in->keys.indices = in->idx.data();
    in->keys.topk = s.topk;
  }
  in->o.resize(size_t(in->T) * s.heads * s.d_c);
  in->lse.resize(size_t(in->T) * s.heads);
  ReferenceBackend().attention_forward(in->o.data(), in->lse.data(), in->q.data(), in->keys, in->sh,
                                       in->T);
  return in;
}

CaseDef AttentionCase(AttnShape s, bool backward) {
  return {AttnName(backward ? "attention_backward" : "attention_forward", s),
          [=](std::mt19937_64& rng) {
            auto in = DrawAttention(rng, s);
            const int T = in->T, H = s.heads, D = in->sh.dim();
            OpCase c{.op = backward ? "attention_backward" : "attention_forward",
                     .shape = AttnShapeText(s),
                     .tol = kAttention};
            if (!backward) {
              c.outputs = {Written("o", size_t(T) * H * s.d_c), Written("lse", size_t(T) * H)};
              c.run = [=](const Backend& be, Outputs* o) {
                be.attention_forward(o->F(0), o->F(1), in->q.data(), in->keys, in->sh, T);
              };
              return c;
            }
            c.outputs = {AddedInto("dq", size_t(T) * H * D), AddedInto("dkv", size_t(T) * D)};
            c.run = [=](const Backend& be, Outputs* o) {
              be.attention_backward(o->F(0), o->F(1), in->d_o.data(), in->q.data(), in->kv.data(),
                                    in->keys, in->o.data(), in->lse.data(), in->sh, T, T);
            };
            return c;
          }};
}

CaseDef AttentionTargetCase(AttnShape s) {
  return {
      AttnName("attention_target_row", s), [=](std::mt19937_64& rng) {
        auto in = DrawAttention(rng, s);
        std::vector<size_t> offset = {0};
        for (int i = 0; i < in->T; ++i) {
          offset.push_back(offset.back() + (s.sel == Sel::kDense ? in->keys.n_keys[i] : s.topk));
        }
        OpCase c{.op = "attention_target_row", .shape = AttnShapeText(s), .tol = kAttention};
        c.outputs = {Written("p", offset.back())};
        c.run = [=](const Backend& be, Outputs* o) {
          const int D = in->sh.dim();
          for (int i = 0; i < in->T; ++i) {
            be.attention_target_row(o->F(0) + offset[i], in->q.data() + size_t(i) * s.heads * D,
                                    in->lse.data() + size_t(i) * s.heads, in->keys, i, in->sh);
          }
        };
        return c;
      }};
}

// ---- indexer selection --------------------------------------------------------------------------

struct IndexerInputs {
  IndexerShape sh;
  int rows = 0;
  std::vector<float> q, k, w;
  KeyRows keys;
};

// Exact scores in double: I[s] = d_I^-0.5 sum_j w[j] ReLU(q[j] . k[s]).
std::vector<double> ExactScores(const IndexerInputs& in, int row) {
  const int n = in.keys.n_keys[row];
  const double c = 1.0 / std::sqrt(double(in.sh.dim));
  std::vector<double> s(n, 0.0);
  for (int key = 0; key < n; ++key) {
    const float* ks = in.keys.base[row] + size_t(key) * in.sh.dim;
    for (int j = 0; j < in.sh.heads; ++j) {
      const float* qj = in.q.data() + (size_t(row) * in.sh.heads + j) * in.sh.dim;
      double d = 0;
      for (int e = 0; e < in.sh.dim; ++e) d += double(qj[e]) * ks[e];
      s[key] += in.w[size_t(row) * in.sh.heads + j] * std::max(d, 0.0);
    }
    s[key] *= c;
  }
  return s;
}

// The exact top-k of `scores` (ties to the larger index), ascending, -1 padded.
std::vector<int> ExactTopK(const std::vector<double>& scores, int topk) {
  const int n = scores.size();
  std::vector<int> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(), [&](int a, int b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a > b);
  });
  ids.resize(std::min(n, topk));
  std::sort(ids.begin(), ids.end());
  ids.resize(topk, -1);
  return ids;
}

struct SelectShape {
  std::vector<int> lengths;  // packed causal rows; empty: decode rows
  int decode_keys;           // decode: two rows seeing decode_keys - 1 and decode_keys keys
  int heads, dim, topk;
  bool exact_ties;  // small-integer inputs: every score exact, many ties
};

CaseDef IndexerSelectCase(SelectShape s) {
  const std::string where = s.lengths.empty() ? absl::StrCat("decode", s.decode_keys)
                                              : absl::StrCat("L", Lengths(s.lengths));
  const std::string name = absl::StrCat("indexer_select_", where, "_H", s.heads, "_d", s.dim, "_k",
                                        s.topk, s.exact_ties ? "_exact_ties" : "");
  return {
      name, [=](std::mt19937_64& rng) {
        auto in = std::make_shared<IndexerInputs>();
        in->sh = IndexerShape{s.heads, s.dim};
        const int T = s.lengths.empty() ? s.decode_keys
                                        : std::accumulate(s.lengths.begin(), s.lengths.end(), 0);
        in->rows = s.lengths.empty() ? 2 : T;
        if (s.exact_ties) {
          // Products and sums of small integers are exact in float in any order, and
          // d_I^-0.5 is a power of two for d_I = 16 or 64: two backends must then pick exactly
          // the same keys, ties to the most recent key.
          auto ints = [&](size_t n, int lo, int hi) {
            std::vector<int> v = UniformInts(rng, n, lo, hi);
            return std::vector<float>(v.begin(), v.end());
          };
          in->q = ints(size_t(in->rows) * s.heads * s.dim, -1, 1);
          in->k = ints(size_t(T) * s.dim, -1, 1);
          in->w = ints(size_t(in->rows) * s.heads, -2, 2);
          for (float& x : in->w) x *= 0.5f;
        } else {
          in->q = Normal(rng, size_t(in->rows) * s.heads * s.dim);
          in->k = Normal(rng, size_t(T) * s.dim);
          in->w = Normal(rng, size_t(in->rows) * s.heads);
        }
        if (s.lengths.empty()) {
          in->keys.base = {in->k.data(), in->k.data()};
          in->keys.n_keys = {s.decode_keys - 1, s.decode_keys};
        } else {
          in->keys = CausalRows(in->k.data(), s.dim, s.lengths);
        }
        // tol: how far from the k-th score (relative to the row's largest) a key may be and
        // still be selected by one backend and not another.
        OpCase c{.op = "indexer_select",
                 .shape = absl::StrFormat("%s H_I %d d_I %d top-%d%s", where, s.heads, s.dim,
                                          s.topk, s.exact_ties ? " exact ties" : ""),
                 .tol = s.exact_ties ? 0.0 : kSelectionTie};
        c.int_outputs = {IntOutputSpec{"indices", size_t(in->rows) * s.topk}};
        c.run = [=](const Backend& be, Outputs* o) {
          be.indexer_select(o->I(0), in->q.data(), in->w.data(), in->keys, in->sh, in->rows,
                            s.topk);
        };
        c.compare_discrete = [=](const Outputs& ref, const Outputs& got,
                                 int* near_ties) -> std::string {
          for (int i = 0; i < in->rows; ++i) {
            const std::vector<double> scores = ExactScores(*in, i);
            const std::vector<int> exact = ExactTopK(scores, s.topk);
            const int* r = ref.i[0].data() + size_t(i) * s.topk;
            const int* g = got.i[0].data() + size_t(i) * s.topk;
            if (s.exact_ties) {
              if (!std::equal(exact.begin(), exact.end(), r)) {
                return absl::StrCat("row ", i, ": the reference breaks an exact tie wrongly");
              }
              if (!std::equal(exact.begin(), exact.end(), g)) {
                return absl::StrCat("row ", i, ": selection differs on exact scores");
              }
              continue;
            }
            double scale = 1;
            for (double x : scores) scale = std::max(scale, std::abs(x));
            const std::string what = absl::StrCat("row ", i);
            for (const int* sel : {r, g}) {
              int differing = 0;
              if (std::string e = SelectionsAgree(sel, exact.data(), scores, scores.size(), s.topk,
                                                  kSelectionTie * scale, what, &differing);
                  !e.empty()) {
                return absl::StrCat(sel == r ? "reference vs exact: " : "vs exact: ", e);
              }
              if (sel == g) *near_ties += differing;
            }
          }
          return "";
        };
        return c;
      }};
}

// ---- indexer loss -------------------------------------------------------------------------------

struct LossShape {
  std::vector<int> lengths;
  int heads, dim, topk;
  bool sparse;  // support = index lists (with -1 slots); else every visible key
};

// Redraws the query of any row that has a query-key dot product within 1e-3 of zero (a ReLU whose
// side depends on summation order) or, on a dense support with recall, a near-tie at its top-k
// cut: the loss gradients and the recall statistic must then agree across backends.
void Condition(std::mt19937_64& rng, IndexerInputs* in, const LossShape& s) {
  for (int i = 0; i < in->rows; ++i) {
    for (int tries = 0; tries < 1000; ++tries) {
      bool ok = true;
      const int n = in->keys.n_keys[i];
      for (int key = 0; key < n && ok; ++key) {
        for (int j = 0; j < s.heads && ok; ++j) {
          double d = 0;
          for (int e = 0; e < s.dim; ++e) {
            d += double(in->q[(size_t(i) * s.heads + j) * s.dim + e]) *
                 in->keys.base[i][size_t(key) * s.dim + e];
          }
          ok = std::abs(d) > 1e-3;
        }
      }
      if (ok && !s.sparse && n > s.topk) {
        std::vector<double> sc = ExactScores(*in, i);
        std::sort(sc.begin(), sc.end(), std::greater<double>());
        ok = sc[s.topk - 1] - sc[s.topk] > 1e-4;
      }
      if (ok) break;
      const std::vector<float> fresh = Normal(rng, size_t(s.heads) * s.dim);
      std::copy(fresh.begin(), fresh.end(), in->q.begin() + size_t(i) * s.heads * s.dim);
    }
  }
}

CaseDef IndexerLossCase(LossShape s) {
  const std::string name =
      absl::StrCat("indexer_loss_", s.sparse ? "sparse" : "dense", "_L", Lengths(s.lengths), "_H",
                   s.heads, "_d", s.dim, "_k", s.topk);
  return {name, [=](std::mt19937_64& rng) {
            auto in = std::make_shared<IndexerInputs>();
            in->sh = IndexerShape{s.heads, s.dim};
            const int T = std::accumulate(s.lengths.begin(), s.lengths.end(), 0);
            in->rows = T;
            in->q = Normal(rng, size_t(T) * s.heads * s.dim);
            in->k = Normal(rng, size_t(T) * s.dim);
            in->w = Normal(rng, size_t(T) * s.heads);
            in->keys = CausalRows(in->k.data(), s.dim, s.lengths);
            Condition(rng, in.get(), s);
            auto support = std::make_shared<std::vector<int>>();
            if (s.sparse) *support = IndexLists(rng, Sel::kHoles, in->keys, s.topk);
            // Target distributions over each row's support: positive, some zeros, summing to 1.
            auto target = std::make_shared<std::vector<std::vector<float>>>(T);
            for (int i = 0; i < T; ++i) {
              const int m = s.sparse ? s.topk : in->keys.n_keys[i];
              std::vector<float>& p = (*target)[i];
              p.assign(m, 0.0f);
              double sum = 0;
              for (int j = 0; j < m; ++j) {
                const bool valid =
                    !s.sparse || ((*support)[size_t(i) * s.topk + j] >= 0 &&
                                  (*support)[size_t(i) * s.topk + j] < in->keys.n_keys[i]);
                if (!valid || rng() % 5 == 0) continue;
                p[j] = std::exp(float(int(rng() % 1000)) / 250.0f);
                sum += p[j];
              }
              for (float& x : p) x = sum > 0 ? float(x / sum) : 0.0f;
            }
            OpCase c{.op = "indexer_loss",
                     .shape = absl::StrFormat("lengths %s H_I %d d_I %d top-%d %s support",
                                              Lengths(s.lengths), s.heads, s.dim, s.topk,
                                              s.sparse ? "sparse" : "dense"),
                     .tol = kIndexerLoss};
            c.outputs = {AddedInto("dq", in->q.size()), AddedInto("dk", in->k.size()),
                         AddedInto("dw", in->w.size())};
            c.run = [=](const Backend& be, Outputs* o) {
              cpu::TargetFn fn = [&](int row, float* p) {
                std::copy((*target)[row].begin(), (*target)[row].end(), p);
              };
              cpu::IndexerLossStats st = be.indexer_loss(
                  o->F(0), o->F(1), o->F(2), in->q.data(), in->k.data(), in->w.data(), in->keys,
                  s.sparse ? support->data() : nullptr, s.topk, fn, in->sh, T, T, 0.5f);
              o->extra["kl_sum"] = {float(st.kl_sum)};
              o->extra["recall_sum"] = {float(st.recall_sum)};
              o->extra_int["rows"] = {st.rows, st.recall_rows};
            };
            return c;
          }};
}

}  // namespace

cpu::KeyRows CausalRows(const float* keys, int width, const std::vector<int>& lengths) {
  KeyRows r;
  const std::vector<int> starts = SequenceStarts(lengths);
  for (size_t t = 0; t < starts.size(); ++t) {
    r.base.push_back(keys + size_t(starts[t]) * width);
    r.n_keys.push_back(int(t) - starts[t] + 1);
  }
  return r;
}

std::vector<int> SequenceStarts(const std::vector<int>& lengths) {
  std::vector<int> starts;
  int start = 0;
  for (int l : lengths) {
    starts.insert(starts.end(), l, start);
    start += l;
  }
  return starts;
}

std::vector<CaseDef> AttentionOpCases() {
  const std::vector<AttnShape> shapes = {
      // Dense: one key; packed sequences of length 1; odd head counts and widths; long rows.
      {{1}, 1, 4, 2, Sel::kDense, 0},
      {{1, 1, 1}, 2, 5, 2, Sel::kDense, 0},
      {{37, 5, 64}, 4, 64, 16, Sel::kDense, 0},
      {{300}, 2, 12, 4, Sel::kDense, 0},
      {{40, 9}, 3, 16, 8, Sel::kDense, 0},
      {{130}, 16, 20, 6, Sel::kDense, 0},
      // Sparse with tie-heavy selections; head counts with and without an in-place kernel
      // (4, 8, 16, 32 have one), value widths off its column block, top-k = 1.
      {{40, 9}, 3, 16, 8, Sel::kTies, 6},
      {{130}, 4, 64, 16, Sel::kTies, 64},
      {{300, 50}, 16, 20, 6, Sel::kTies, 37},
      {{90}, 8, 64, 16, Sel::kTies, 40},
      {{70}, 32, 8, 8, Sel::kTies, 13},
      {{50}, 4, 12, 4, Sel::kTies, 1},
      {{1, 1, 1}, 4, 5, 3, Sel::kTies, 1},
      // Top-k covering every row (the sparse kernel over full index lists), top-k = T.
      {{20, 3}, 4, 12, 4, Sel::kFull, 24},
      {{33}, 5, 7, 3, Sel::kFull, 40},
      {{1}, 1, 4, 2, Sel::kFull, 1},
      // -1 and out-of-range slots, any order, a row with no valid slot.
      {{60, 1}, 4, 16, 8, Sel::kHoles, 9},
      {{45}, 6, 10, 2, Sel::kHoles, 12},
  };
  std::vector<CaseDef> v;
  for (const AttnShape& s : shapes) {
    v.push_back(AttentionCase(s, false));
    v.push_back(AttentionCase(s, true));
  }
  for (const AttnShape& s : {shapes[1], shapes[4], shapes[6], shapes[10], shapes[14], shapes[16]}) {
    v.push_back(AttentionTargetCase(s));
  }
  const std::vector<SelectShape> selects = {
      {{200, 3, 90}, 0, 4, 16, 17, false},  // rows sharing keys: the sgemm panel
      {{1, 1, 1}, 0, 2, 8, 1, false},       // one key each: selects it
      {{50}, 0, 3, 12, 1, false},           // top-1, widths off the vector width
      {{30}, 0, 4, 16, 64, false},          // top-k >= T: every key
      {{130}, 0, 4, 32, 64, false},
      {{}, 20000, 4, 16, 96, false},  // decode: threaded, width-specialized
      {{}, 20000, 4, 32, 96, false},
      {{}, 20000, 4, 64, 96, false},
      {{}, 9000, 2, 128, 64, false},
      {{}, 5000, 3, 24, 50, false},  // a width without a specialized kernel
      {{}, 300, 4, 32, 1, false},
      {{200, 3, 90}, 0, 4, 16, 17, true},  // exact ties on every path
      {{}, 20000, 4, 16, 96, true},
      {{}, 20000, 4, 64, 96, true},
  };
  for (const SelectShape& s : selects) v.push_back(IndexerSelectCase(s));
  const std::vector<LossShape> losses = {
      {{20, 7}, 2, 8, 5, false}, {{60}, 4, 16, 16, false}, {{1, 1}, 1, 4, 1, false},
      {{40, 9}, 3, 12, 6, true}, {{64}, 4, 16, 64, true},
  };
  for (const LossShape& s : losses) v.push_back(IndexerLossCase(s));
  return v;
}

}  // namespace dsarl::model::optest

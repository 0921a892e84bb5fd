// Near-ties of the model's discrete choices, for tests that compare two code paths through them.
//
// Two paths that compute the same thing in a different order (a packed batch against one sequence,
// a blocked kernel against a reference, one ISA against another) agree to rounding in every
// continuous value, but a discrete choice taken on those values (the indexer's top-k keys, the
// MoE router's experts, the sampled token) flips when its margin is within rounding. Such a test
// asks here where the margins are thin: "thin" means a relative perturbation of `tol` of the
// inputs of the choice could change it, so any pair of paths that agree to much better than `tol`
// (float32 paths agree to ~1e-6) can disagree there and nowhere else.
#ifndef DSARL_TESTS_MODEL_NEAR_TIES_H_
#define DSARL_TESTS_MODEL_NEAR_TIES_H_

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "model/sampler.h"
#include "model/transformer.h"

namespace dsarl::testing {

// A value known to within a perturbation: [lo, hi].
struct Range {
  double lo = 0, hi = 0;
  bool point() const { return lo == hi; }
};

// Whether some member of `in` and some member of `out` could swap order: their ranges overlap.
// Equal point ranges do not count: they tie exactly on every path, and the choice's tie rule
// decides the same way everywhere (e.g. indexer keys whose every ReLU is clamped to 0).
inline bool CanSwap(const std::vector<Range>& r, const std::vector<int>& in,
                    const std::vector<int>& out) {
  for (int i : in) {
    for (int o : out) {
      if (r[o].hi > r[i].lo) return true;
      if (r[o].hi == r[i].lo && !(r[o].point() && r[i].point())) return true;
    }
  }
  return false;
}

// Indexer top-k rows of one layer with a near-tie at the cut. Row t's keys are the rows of its
// sequence up to t (seq_start as in PackedBatch). Score of key s: sum_j w_j ReLU(q_j . k_s); each
// dot may move by tol * |q_j| |k_s| and each weight by tol * |w_j|.
inline std::vector<int> IndexerNearTieRows(const model::LayerActs& a, const model::ModelDims& d,
                                           const std::vector<int>& seq_start, double tol) {
  std::vector<int> rows;
  if (a.topk <= 0) return rows;  // dense attention, or every row kept all its keys
  const int HI = d.index_heads, dI = d.index_dim;
  for (size_t q = 0; q + 1 < seq_start.size(); ++q) {
    for (int t = seq_start[q]; t < seq_start[q + 1]; ++t) {
      const int n = t - seq_start[q] + 1;
      if (n <= a.topk) continue;
      const float* qt = &a.qi[size_t(t) * HI * dI];
      const float* wt = &a.wi[size_t(t) * HI];
      std::vector<Range> score(n);
      for (int s = 0; s < n; ++s) {
        const float* ks = &a.ki[size_t(seq_start[q] + s) * dI];
        double kn = 0;
        for (int e = 0; e < dI; ++e) kn += double(ks[e]) * ks[e];
        for (int j = 0; j < HI; ++j) {
          double dot = 0, qn = 0;
          for (int e = 0; e < dI; ++e) {
            dot += double(qt[j * dI + e]) * ks[e];
            qn += double(qt[j * dI + e]) * qt[j * dI + e];
          }
          const double eps = tol * std::sqrt(qn * kn);
          const double r_lo = std::max(0.0, dot - eps), r_hi = std::max(0.0, dot + eps);
          const double w = wt[j], w_lo = w - tol * std::abs(w), w_hi = w + tol * std::abs(w);
          const double c[4] = {w_lo * r_lo, w_lo * r_hi, w_hi * r_lo, w_hi * r_hi};
          score[s].lo += *std::min_element(c, c + 4);
          score[s].hi += *std::max_element(c, c + 4);
        }
      }
      std::vector<int> in, out;
      std::vector<bool> chosen(n, false);
      for (int k = 0; k < a.topk; ++k) {
        const int s = a.indices[size_t(t) * a.topk + k];
        if (s >= 0) chosen[s] = true;
      }
      for (int s = 0; s < n; ++s) (chosen[s] ? in : out).push_back(s);
      if (CanSwap(score, in, out)) rows.push_back(t);
    }
  }
  return rows;
}

// MoE router rows of one layer with a near-tie: in the choice of groups (each scored by the sum of
// its two best biased scores), of experts within them, or of the order of the chosen experts
// (the recorded routing lists them best first). Sigmoid scores may move by tol.
inline std::vector<int> RouterNearTieRows(const model::LayerActs& a, const model::LayerTensors& w,
                                          const model::ModelDims& d, double tol) {
  std::vector<int> rows;
  const int E = d.n_routed, K = d.experts_per_tok, G = std::max(1, d.n_group), per = E / G;
  const int T = a.moe.scores.size() / std::max(E, 1);
  for (int t = 0; t < T; ++t) {
    std::vector<Range> choice(E);
    std::vector<double> center(E);
    for (int e = 0; e < E; ++e) {
      center[e] =
          double(a.moe.scores[size_t(t) * E + e]) + (w.router_bias ? w.router_bias[e] : 0.0);
      choice[e] = {center[e] - tol, center[e] + tol};
    }
    std::vector<Range> group(G);
    std::vector<double> gcenter(G);
    for (int g = 0; g < G; ++g) {
      std::vector<double> lo, hi, c;
      for (int e = g * per; e < (g + 1) * per; ++e) {
        lo.push_back(choice[e].lo);
        hi.push_back(choice[e].hi);
        c.push_back(center[e]);
      }
      for (auto* v : {&lo, &hi, &c}) std::sort(v->begin(), v->end(), std::greater<double>());
      const int top = std::min(per, 2);
      for (int i = 0; i < top; ++i) {
        group[g].lo += lo[i];
        group[g].hi += hi[i];
        gcenter[g] += c[i];
      }
    }
    std::vector<int> gid(G);
    std::iota(gid.begin(), gid.end(), 0);
    std::stable_sort(gid.begin(), gid.end(), [&](int x, int y) { return gcenter[x] > gcenter[y]; });
    const int keep = std::min(d.topk_group, G);
    bool fragile = CanSwap(group, std::vector<int>(gid.begin(), gid.begin() + keep),
                           std::vector<int>(gid.begin() + keep, gid.end()));
    std::vector<int> chosen(a.moe.experts.begin() + size_t(t) * K,
                            a.moe.experts.begin() + size_t(t + 1) * K);
    std::vector<int> allowed_unchosen;
    for (int i = 0; i < keep; ++i) {
      for (int e = gid[i] * per; e < (gid[i] + 1) * per; ++e) {
        if (std::find(chosen.begin(), chosen.end(), e) == chosen.end())
          allowed_unchosen.push_back(e);
      }
    }
    fragile |= CanSwap(choice, chosen, allowed_unchosen);
    for (int i = 0; i + 1 < K; ++i) fragile |= CanSwap(choice, {chosen[i]}, {chosen[i + 1]});
    if (fragile) rows.push_back(t);
  }
  return rows;
}

// The first row of `batch` (a forward of it through `m`) at which an indexer or router choice, in
// any layer, has a near-tie; batch.tokens.size() when none. Routing forced by the batch is no
// choice. Rows are positions in the packed batch.
inline int FirstNearTieRow(model::Transformer& m, const model::PackedBatch& batch,
                           model::AttentionMode mode, double tol, std::string* why = nullptr) {
  model::ForwardOptions o;
  o.mode = mode;
  const absl::StatusOr<model::ForwardResult> r = m.Forward(batch, o);
  if (!r.ok()) {
    if (why) *why = std::string(r.status().message());
    return 0;
  }
  const model::ModelDims& d = m.dims();
  int first = batch.tokens.size();
  for (int l = 0; l < d.n_layers; ++l) {
    for (int t : IndexerNearTieRows(m.layer_acts(l), d, batch.seq_start, tol)) {
      if (t < first) {
        first = t;
        if (why) *why = absl::StrCat("indexer top-k of layer ", l, " at row ", t);
      }
    }
    if (!d.is_moe_layer(l) || !batch.forced_experts.empty()) continue;
    for (int t : RouterNearTieRows(m.layer_acts(l), m.weights().layers[l], d, tol)) {
      if (t < first) {
        first = t;
        if (why) *why = absl::StrCat("router of layer ", l, " at row ", t);
      }
    }
  }
  return first;
}

// Whether a draw from `logits` with `params`, whose uniform is the next NextDouble() of `rng`
// (taken by value: the caller's stream is not advanced), is within a near-tie of another outcome:
// the top-k cut (when it truncates) could take another token, or the uniform is within reach of
// an edge of the drawn token's CDF interval. Logits may move by delta = tol * max(1, |logit|):
// that moves the CDF at an edge c by at most 2 delta c (1 - c) (d c = sum_i p_i delta_i
// (1[i <= edge] - c)). Top-p is not modelled (a test with top_p < 1 must not use this).
inline bool SamplingNearTie(absl::Span<const float> logits, const model::SamplingParams& params,
                            model::Rng rng, double tol, std::string* why = nullptr) {
  const int V = logits.size();
  const double T = params.temperature;
  std::vector<double> s(V);
  double delta = 0;
  for (int i = 0; i < V; ++i) {
    s[i] = double(logits[i]) / T;
    delta = std::max(delta, tol * std::max(1.0, std::abs(s[i])));
  }
  std::vector<int> ids(V);
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) { return s[a] > s[b]; });
  std::vector<int> kept = ids;
  if (params.top_k > 0 && params.top_k < V) {
    // The cut moves if the last kept and the first dropped can swap.
    if (s[ids[params.top_k - 1]] - s[ids[params.top_k]] <= 2 * delta) {
      if (why)
        *why = absl::StrCat("top-k cut: logits ", s[ids[params.top_k - 1]], " and ",
                            s[ids[params.top_k]]);
      return true;
    }
    kept.resize(params.top_k);
  }
  std::sort(kept.begin(), kept.end());  // the sampler walks the kept ids in ascending order
  double max = -INFINITY, total = 0;
  for (int id : kept) max = std::max(max, s[id]);
  for (int id : kept) total += std::exp(s[id] - max);
  const double u = rng.NextDouble();
  double cumulative = 0;
  for (int id : kept) {
    cumulative += std::exp(s[id] - max);
    const double c = cumulative / total;
    if (std::abs(c - u) <= 2 * delta * c * (1 - c) + 1e-12) {
      if (why) *why = absl::StrCat("CDF edge after token ", id, ": ", c, " vs uniform ", u);
      return true;
    }
  }
  return false;
}

}  // namespace dsarl::testing

#endif  // DSARL_TESTS_MODEL_NEAR_TIES_H_

#include "tests/model/choice_margin.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_format.h"

namespace dsarl::model::testing {
namespace {

// Exact indexer scores of row t over keys [s0, t], and whether every ReLU input is clear of 0.
std::vector<double> RowScores(const LayerActs& a, const ModelDims& d, int s0, int t, double margin,
                              bool* relu_clear) {
  const int HI = d.index_heads, dI = d.index_dim;
  const double c = 1.0 / std::sqrt(double(dI));
  std::vector<double> s;
  *relu_clear = true;
  for (int key = s0; key <= t; ++key) {
    double acc = 0;
    for (int j = 0; j < HI; ++j) {
      double dot = 0;
      for (int e = 0; e < dI; ++e) {
        dot += double(a.qi[(size_t(t) * HI + j) * dI + e]) * a.ki[size_t(key) * dI + e];
      }
      if (std::abs(dot) < margin) *relu_clear = false;
      acc += a.wi[size_t(t) * HI + j] * std::max(dot, 0.0);
    }
    s.push_back(c * acc);
  }
  return s;
}

std::string TopKNearTie(const LayerActs& a, const ModelDims& d, const PackedBatch& b, int l,
                        double margin) {
  for (size_t q = 0; q + 1 < b.seq_start.size(); ++q) {
    const int s0 = b.seq_start[q];
    for (int t = s0; t < b.seq_start[q + 1]; ++t) {
      const int n = t - s0 + 1;
      if (n <= d.index_topk) continue;
      bool relu_clear;
      std::vector<double> s = RowScores(a, d, s0, t, margin, &relu_clear);
      double scale = 1;
      for (double x : s) scale = std::max(scale, std::abs(x));
      std::sort(s.begin(), s.end(), std::greater<double>());
      const double above = s[d.index_topk - 1], below = s[d.index_topk];
      if (above - below >= margin * scale) continue;
      if (above == 0 && below == 0 && relu_clear) continue;  // exact zeros on every path
      return absl::StrFormat("layer %d row %d: top-%d cut between scores %.9g and %.9g", l, t,
                             d.index_topk, above, below);
    }
  }
  return "";
}

std::string LayerRoutingNearTie(const LayerActs& a, const LayerTensors& w, const ModelDims& d,
                                int T, int l, double margin) {
  const int E = d.n_routed;
  for (int t = 0; t < T; ++t) {
    std::vector<double> choice(E);
    for (int e = 0; e < E; ++e) {
      choice[e] = a.moe.scores[size_t(t) * E + e] + (w.router_bias ? w.router_bias[e] : 0.0f);
    }
    if (std::string e = RoutingNearTie(choice, d, margin); !e.empty()) {
      return absl::StrFormat("layer %d row %d: %s", l, t, e);
    }
  }
  return "";
}

}  // namespace

std::string RoutingNearTie(const std::vector<double>& choice, const ModelDims& d, double margin) {
  const int per = d.n_routed / d.n_group;
  std::vector<double> experts = choice, group(d.n_group);
  for (int g = 0; g < d.n_group; ++g) {
    std::vector<double> v(choice.begin() + g * per, choice.begin() + (g + 1) * per);
    std::sort(v.begin(), v.end(), std::greater<double>());
    group[g] = v[0] + (per > 1 ? v[1] : 0.0);
  }
  for (std::vector<double>* v : {&experts, &group}) {
    std::sort(v->begin(), v->end());
    for (size_t i = 1; i < v->size(); ++i) {
      if ((*v)[i] - (*v)[i - 1] < margin) {
        return absl::StrFormat("%s scores %.9g and %.9g", v == &group ? "group" : "expert",
                               (*v)[i - 1], (*v)[i]);
      }
    }
  }
  return "";
}

std::string NearTie(const Transformer& m, const PackedBatch& batch, double margin) {
  const ModelDims& d = m.dims();
  for (int l = 0; l < d.n_layers; ++l) {
    const LayerActs& a = m.layer_acts(l);
    if (a.topk > 0) {
      if (std::string e = TopKNearTie(a, d, batch, l, margin); !e.empty()) return e;
    }
    if (m.weights().layers[l].moe) {
      if (std::string e = LayerRoutingNearTie(a, m.weights().layers[l], d, a.T, l, margin);
          !e.empty()) {
        return e;
      }
    }
  }
  return "";
}

}  // namespace dsarl::model::testing

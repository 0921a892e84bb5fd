#include "model/cpu/ffn.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "model/cpu/ops.h"

namespace dsarl::model::cpu {

const FfnKernels& FastFfnKernels() {
  static const FfnKernels kFast{MatmulForward, MatmulBackward, SwiGluForward, SwiGluBackward};
  return kFast;
}

void MlpForwardWith(const FfnKernels& k, float* y, MlpActs* a, const float* x, const MlpTensors& w,
                    int T, int D, bool accumulate) {
  const int F = w.hidden;
  a->g.resize(size_t(T) * F);
  a->u.resize(size_t(T) * F);
  a->h.resize(size_t(T) * F);
  k.matmul_forward(a->g.data(), x, w.gate, T, D, F, false, -1, -1);
  k.matmul_forward(a->u.data(), x, w.up, T, D, F, false, -1, -1);
  k.swiglu_forward(a->h.data(), a->g.data(), a->u.data(), T, F);
  k.matmul_forward(y, a->h.data(), w.down, T, F, D, accumulate, -1, -1);
}

void MlpBackwardWith(const FfnKernels& k, float* dx, const MlpTensors& gw, const float* dy,
                     const float* x, const MlpActs& a, const MlpTensors& w, int T, int D) {
  const int F = w.hidden;
  std::vector<float> dh(size_t(T) * F, 0.0f), dg(size_t(T) * F, 0.0f), du(size_t(T) * F, 0.0f);
  k.matmul_backward(dh.data(), gw.down, dy, a.h.data(), w.down, T, F, D, -1, -1,
                    -1);  // y = h down^T
  k.swiglu_backward(dg.data(), du.data(), dh.data(), a.g.data(), a.u.data(), T, F);
  k.matmul_backward(dx, gw.gate, dg.data(), x, w.gate, T, D, F, -1, -1, -1);  // g = x gate^T
  k.matmul_backward(dx, gw.up, du.data(), x, w.up, T, D, F, -1, -1, -1);      // u = x up^T
}

void MlpForward(float* y, MlpActs* a, const float* x, const MlpTensors& w, int T, int D,
                bool accumulate) {
  MlpForwardWith(FastFfnKernels(), y, a, x, w, T, D, accumulate);
}

void MlpBackward(float* dx, const MlpTensors& gw, const float* dy, const float* x, const MlpActs& a,
                 const MlpTensors& w, int T, int D) {
  MlpBackwardWith(FastFfnKernels(), dx, gw, dy, x, a, w, T, D);
}

namespace {

// DeepSeek-V3 routing: choose topk_group groups by the sum of each group's top-2 biased scores,
// then the top experts_per_tok experts inside them by biased score. Ties go to the lower id.
void Route(int* out, const float* score, const float* bias, const ModelDims& d) {
  const int E = d.n_routed, G = d.n_group, per = E / G;
  std::vector<float> choice(E);
  for (int e = 0; e < E; ++e) choice[e] = score[e] + (bias ? bias[e] : 0.0f);
  std::vector<float> gscore(G);
  for (int g = 0; g < G; ++g) {
    std::vector<float> v(choice.begin() + g * per, choice.begin() + (g + 1) * per);
    std::sort(v.begin(), v.end(), std::greater<float>());
    gscore[g] = v[0] + (per > 1 ? v[1] : 0.0f);
  }
  std::vector<int> gid(G);
  std::iota(gid.begin(), gid.end(), 0);
  std::stable_sort(gid.begin(), gid.end(), [&](int a, int b) { return gscore[a] > gscore[b]; });
  std::vector<bool> allowed(E, false);
  for (int i = 0; i < d.topk_group; ++i) {
    for (int e = gid[i] * per; e < (gid[i] + 1) * per; ++e) allowed[e] = true;
  }
  std::vector<int> eid;
  for (int e = 0; e < E; ++e) {
    if (allowed[e]) eid.push_back(e);
  }
  std::stable_sort(eid.begin(), eid.end(), [&](int a, int b) { return choice[a] > choice[b]; });
  for (int k = 0; k < d.experts_per_tok; ++k) out[k] = eid[k];
}

}  // namespace

void MoeForward(float* y, MoeActs* a, const float* x, const LayerTensors& w, const ModelDims& d,
                const int* forced, int T) {
  MoeForwardWith(FastFfnKernels(), y, a, x, w, d, forced, T);
}

void MoeBackward(float* dx, const LayerTensors& gw, const float* dy, const float* x,
                 const MoeActs& a, const LayerTensors& w, const ModelDims& d, int T) {
  MoeBackwardWith(FastFfnKernels(), dx, gw, dy, x, a, w, d, T);
}

void MoeForwardWith(const FfnKernels& k, float* y, MoeActs* a, const float* x,
                    const LayerTensors& w, const ModelDims& d, const int* forced, int T) {
  const int E = d.n_routed, K = d.experts_per_tok, D = d.d_model;
  a->scores.resize(size_t(T) * E);
  k.matmul_forward(a->scores.data(), x, w.router, T, D, E, false, -1, -1);
  for (float& s : a->scores) s = 1.0f / (1.0f + std::exp(-s));
  a->experts.resize(size_t(T) * K);
  a->weights.resize(size_t(T) * K);
  for (int t = 0; t < T; ++t) {
    int* ex = &a->experts[size_t(t) * K];
    if (forced != nullptr) {
      std::copy_n(forced + size_t(t) * K, K, ex);
    } else {
      Route(ex, &a->scores[size_t(t) * E], w.router_bias, d);
    }
    float sum = 0.0f;
    for (int k = 0; k < K; ++k) sum += a->scores[size_t(t) * E + ex[k]];
    for (int k = 0; k < K; ++k) {
      float raw = a->scores[size_t(t) * E + ex[k]];
      a->weights[size_t(t) * K + k] =
          d.routed_scale * (d.norm_topk_prob ? raw / (sum + 1e-20f) : raw);
    }
  }
  // Shared experts see every row.
  if (w.shared.hidden > 0) {
    MlpForwardWith(k, y, &a->shared, x, w.shared, T, D, false);
  } else {
    std::fill(y, y + size_t(T) * D, 0.0f);
  }
  a->routed.assign(E, {});
  for (int t = 0; t < T; ++t) {
    for (int k = 0; k < K; ++k) a->routed[a->experts[size_t(t) * K + k]].push_back(t * K + k);
  }
  a->x_in.assign(E, {});
  a->y_out.assign(E, {});
  a->acts.assign(E, {});
  for (int e = 0; e < E; ++e) {
    const auto& rows = a->routed[e];
    const int n = rows.size();
    if (n == 0) continue;
    a->x_in[e].resize(size_t(n) * D);
    a->y_out[e].resize(size_t(n) * D);
    for (int i = 0; i < n; ++i) {
      std::copy_n(x + size_t(rows[i] / K) * D, D, &a->x_in[e][size_t(i) * D]);
    }
    MlpForwardWith(k, a->y_out[e].data(), &a->acts[e], a->x_in[e].data(), w.experts[e], n, D,
                   false);
    for (int i = 0; i < n; ++i) {
      const float wt = a->weights[rows[i]];
      float* yr = y + size_t(rows[i] / K) * D;
      const float* ye = &a->y_out[e][size_t(i) * D];
      for (int c = 0; c < D; ++c) yr[c] += wt * ye[c];
    }
  }
}

void MoeBackwardWith(const FfnKernels& k, float* dx, const LayerTensors& gw, const float* dy,
                     const float* x, const MoeActs& a, const LayerTensors& w, const ModelDims& d,
                     int T) {
  const int E = d.n_routed, K = d.experts_per_tok, D = d.d_model;
  if (w.shared.hidden > 0) MlpBackwardWith(k, dx, gw.shared, dy, x, a.shared, w.shared, T, D);
  std::vector<float> dweight(size_t(T) * K, 0.0f);
  for (int e = 0; e < E; ++e) {
    const auto& rows = a.routed[e];
    const int n = rows.size();
    if (n == 0) continue;
    std::vector<float> dye(size_t(n) * D), dxe(size_t(n) * D, 0.0f);
    for (int i = 0; i < n; ++i) {
      const float* g = dy + size_t(rows[i] / K) * D;
      const float* ye = &a.y_out[e][size_t(i) * D];
      const float wt = a.weights[rows[i]];
      double dot = 0;
      for (int c = 0; c < D; ++c) {
        dye[size_t(i) * D + c] = wt * g[c];  // y += wt * y_e
        dot += double(g[c]) * ye[c];
      }
      dweight[rows[i]] = float(dot);
    }
    MlpBackwardWith(k, dxe.data(), gw.experts[e], dye.data(), a.x_in[e].data(), a.acts[e],
                    w.experts[e], n, D);
    for (int i = 0; i < n; ++i) {
      float* dr = dx + size_t(rows[i] / K) * D;
      for (int c = 0; c < D; ++c) dr[c] += dxe[size_t(i) * D + c];
    }
  }
  // weights_k = s * raw_k / S (S = sum raw + 1e-20) or s * raw_k;  raw = sigmoid(logit).
  std::vector<float> dlogit(size_t(T) * E, 0.0f);
  for (int t = 0; t < T; ++t) {
    const int* ex = &a.experts[size_t(t) * K];
    const float* sc = &a.scores[size_t(t) * E];
    const float* dw = &dweight[size_t(t) * K];
    float S = 0.0f, wdot = 0.0f;
    for (int k = 0; k < K; ++k) {
      S += sc[ex[k]];
      wdot += dw[k] * sc[ex[k]];
    }
    S += 1e-20f;
    for (int k = 0; k < K; ++k) {
      float draw =
          d.norm_topk_prob ? d.routed_scale * (dw[k] / S - wdot / (S * S)) : d.routed_scale * dw[k];
      const float s = sc[ex[k]];
      dlogit[size_t(t) * E + ex[k]] += draw * s * (1.0f - s);
    }
  }
  k.matmul_backward(dx, gw.router, dlogit.data(), x, w.router, T, D, E, -1, -1, -1);  // x router^T
}

}  // namespace dsarl::model::cpu

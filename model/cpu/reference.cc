#include "model/cpu/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dsarl::model::cpu {
namespace {

double DotD(const float* a, const float* b, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += double(a[i]) * b[i];
  return s;
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

void GemmReference(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* a,
                   int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) {
        const float av = trans_a ? a[size_t(k) * lda + i] : a[size_t(i) * lda + k];
        const float bv = trans_b ? b[size_t(j) * ldb + k] : b[size_t(k) * ldb + j];
        s += double(av) * bv;
      }
      float& out = c[size_t(i) * ldc + j];
      out = float(alpha * s + (beta == 0.0f ? 0.0 : double(beta) * out));
    }
  }
}

void MatmulForwardReference(float* out, const float* in, const float* w, int T, int K, int N,
                            bool accumulate, int ld_out, int ld_in) {
  if (ld_out < 0) ld_out = N;
  if (ld_in < 0) ld_in = K;
  for (int t = 0; t < T; ++t) {
    for (int n = 0; n < N; ++n) {
      const double s = DotD(in + size_t(t) * ld_in, w + size_t(n) * K, K);
      float& o = out[size_t(t) * ld_out + n];
      o = float(accumulate ? o + s : s);
    }
  }
}

void MatmulBackwardReference(float* din, float* dw, const float* dout, const float* in,
                             const float* w, int T, int K, int N, int ld_dout, int ld_in,
                             int ld_din) {
  if (ld_dout < 0) ld_dout = N;
  if (ld_in < 0) ld_in = K;
  if (ld_din < 0) ld_din = K;
  if (din != nullptr) {
    for (int t = 0; t < T; ++t) {
      for (int k = 0; k < K; ++k) {
        double s = 0;
        for (int n = 0; n < N; ++n)
          s += double(dout[size_t(t) * ld_dout + n]) * w[size_t(n) * K + k];
        din[size_t(t) * ld_din + k] += float(s);
      }
    }
  }
  if (dw != nullptr) {
    for (int n = 0; n < N; ++n) {
      for (int k = 0; k < K; ++k) {
        double s = 0;
        for (int t = 0; t < T; ++t)
          s += double(dout[size_t(t) * ld_dout + n]) * in[size_t(t) * ld_in + k];
        dw[size_t(n) * K + k] += float(s);
      }
    }
  }
}

void RmsNormForwardReference(float* out, float* rstd, const float* in, const float* w, int T, int C,
                             float eps, int ld_in) {
  if (ld_in < 0) ld_in = C;
  for (int t = 0; t < T; ++t) {
    const float* x = in + size_t(t) * ld_in;
    const double r = 1.0 / std::sqrt(DotD(x, x, C) / C + eps);
    rstd[t] = float(r);
    for (int i = 0; i < C; ++i) out[size_t(t) * C + i] = float(x[i] * r * w[i]);
  }
}

void RmsNormBackwardReference(float* din, float* dw, const float* dout, const float* in,
                              const float* w, const float* rstd, int T, int C, int ld_in,
                              int ld_din) {
  if (ld_in < 0) ld_in = C;
  if (ld_din < 0) ld_din = C;
  for (int t = 0; t < T; ++t) {
    const float* x = in + size_t(t) * ld_in;
    const float* dy = dout + size_t(t) * C;
    const double r = rstd[t];
    double dot = 0;
    for (int i = 0; i < C; ++i) dot += double(dy[i]) * w[i] * x[i];
    for (int i = 0; i < C; ++i) {
      if (din != nullptr)
        din[size_t(t) * ld_din + i] += float(r * w[i] * dy[i] - x[i] * r * r * r * dot / C);
      if (dw != nullptr) dw[i] += float(double(dy[i]) * x[i] * r);
    }
  }
}

void LayerNormForwardReference(float* out, float* mean, float* rstd, const float* in,
                               const float* w, const float* b, int T, int C, float eps) {
  for (int t = 0; t < T; ++t) {
    const float* x = in + size_t(t) * C;
    double m = 0, v = 0;
    for (int i = 0; i < C; ++i) m += x[i];
    m /= C;
    for (int i = 0; i < C; ++i) v += (x[i] - m) * (x[i] - m);
    const double r = 1.0 / std::sqrt(v / C + eps);
    mean[t] = float(m);
    rstd[t] = float(r);
    for (int i = 0; i < C; ++i) out[size_t(t) * C + i] = float((x[i] - m) * r * w[i] + b[i]);
  }
}

void LayerNormBackwardReference(float* din, float* dw, float* db, const float* dout,
                                const float* in, const float* w, const float* mean,
                                const float* rstd, int T, int C) {
  for (int t = 0; t < T; ++t) {
    const float* x = in + size_t(t) * C;
    const float* dy = dout + size_t(t) * C;
    const double m = mean[t], r = rstd[t];
    double s1 = 0, s2 = 0;
    for (int i = 0; i < C; ++i) {
      const double xh = (x[i] - m) * r, g = double(dy[i]) * w[i];
      s1 += g;
      s2 += g * xh;
      if (dw != nullptr) dw[i] += float(dy[i] * xh);
      if (db != nullptr) db[i] += dy[i];
    }
    if (din == nullptr) continue;
    for (int i = 0; i < C; ++i) {
      const double xh = (x[i] - m) * r;
      din[size_t(t) * C + i] += float(r * (double(dy[i]) * w[i] - s1 / C - xh * s2 / C));
    }
  }
}

void SwiGluForwardReference(float* out, const float* g, const float* u, int T, int F) {
  for (size_t i = 0; i < size_t(T) * F; ++i) out[i] = float(g[i] * Sigmoid(g[i]) * u[i]);
}

void SwiGluBackwardReference(float* dg, float* du, const float* dout, const float* g,
                             const float* u, int T, int F) {
  for (size_t i = 0; i < size_t(T) * F; ++i) {
    const double s = Sigmoid(g[i]);
    dg[i] += float(double(dout[i]) * u[i] * s * (1.0 + g[i] * (1.0 - s)));
    du[i] += float(double(dout[i]) * g[i] * s);
  }
}

void EmbeddingForwardReference(float* out, const int* tokens, const float* table, int T, int C) {
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < C; ++i) out[size_t(t) * C + i] = table[size_t(tokens[t]) * C + i];
  }
}

void EmbeddingBackwardReference(float* dtable, const float* dout, const int* tokens, int T, int C) {
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < C; ++i) dtable[size_t(tokens[t]) * C + i] += dout[size_t(t) * C + i];
  }
}

namespace {

void RopeReference(bool interleaved, float* x, const int* pos, const RopeTable& tab, int T,
                   int heads, int row_stride, int head_stride, int col, bool inverse) {
  const int half = tab.rope / 2;
  for (int t = 0; t < T; ++t) {
    for (int h = 0; h < heads; ++h) {
      float* v = x + size_t(t) * row_stride + size_t(h) * head_stride + col;
      for (int i = 0; i < half; ++i) {
        const double c = tab.cos[size_t(pos[t]) * half + i];
        const double s = (inverse ? -1.0 : 1.0) * tab.sin[size_t(pos[t]) * half + i];
        float& a = interleaved ? v[2 * i] : v[i];
        float& b = interleaved ? v[2 * i + 1] : v[i + half];
        const double a0 = a, b0 = b;
        a = float(a0 * c - b0 * s);
        b = float(a0 * s + b0 * c);
      }
    }
  }
}

// The ids of position t's softmax: its kept set, or (empty result) the whole vocabulary.
const std::vector<int>* KeptSet(const std::vector<std::vector<int>>* kept, int t) {
  if (kept == nullptr || t >= int(kept->size()) || (*kept)[t].empty()) return nullptr;
  return &(*kept)[t];
}

double LogSumExpD(const float* z, const std::vector<int>* ids, int V) {
  std::vector<int> all;
  if (ids == nullptr) {
    all.resize(V);
    for (int v = 0; v < V; ++v) all[v] = v;
    ids = &all;
  }
  double mx = -std::numeric_limits<double>::infinity();
  for (int v : *ids) mx = std::max(mx, double(z[v]));
  double s = 0;
  for (int v : *ids) s += std::exp(z[v] - mx);
  return mx + std::log(s);
}

// Key slot j of a row is valid when it names a visible key; dense rows visit every visible key.
struct RowSlots {
  const int* idx;
  int count, n;
  int key(int j) const { return idx == nullptr ? j : idx[j]; }
  bool valid(int j) const { return idx == nullptr || (idx[j] >= 0 && idx[j] < n); }
};

RowSlots SlotsOf(const KeyRows& keys, int row) {
  if (keys.indices != nullptr) {
    return {keys.indices + size_t(row) * keys.topk, keys.topk, keys.n_keys[row]};
  }
  return {nullptr, keys.n_keys[row], keys.n_keys[row]};
}

}  // namespace

void RopeInterleavedReference(float* x, const int* pos, const RopeTable& table, int T, int heads,
                              int row_stride, int head_stride, int col, bool inverse) {
  RopeReference(true, x, pos, table, T, heads, row_stride, head_stride, col, inverse);
}

void RopeHalfReference(float* x, const int* pos, const RopeTable& table, int T, int heads,
                       int row_stride, int head_stride, int col, bool inverse) {
  RopeReference(false, x, pos, table, T, heads, row_stride, head_stride, col, inverse);
}

void LogProbForwardReference(float* logp, float* entropy, const float* logits, const int* target,
                             const std::vector<std::vector<int>>* kept, int T, int V) {
  for (int t = 0; t < T; ++t) {
    const float* z = logits + size_t(t) * V;
    if (entropy != nullptr) {
      const double lse = LogSumExpD(z, nullptr, V);
      double h = 0;
      for (int v = 0; v < V; ++v) h -= std::exp(z[v] - lse) * (z[v] - lse);
      entropy[t] = float(h);
    }
    logp[t] = target[t] < 0 ? 0.0f : float(z[target[t]] - LogSumExpD(z, KeptSet(kept, t), V));
  }
}

void LogProbBackwardReference(float* dlogits, const float* dlogp, const float* logits,
                              const int* target, const std::vector<std::vector<int>>* kept, int T,
                              int V) {
  for (int t = 0; t < T; ++t) {
    if (target[t] < 0) continue;
    const float* z = logits + size_t(t) * V;
    float* dz = dlogits + size_t(t) * V;
    const std::vector<int>* ids = KeptSet(kept, t);
    const double lse = LogSumExpD(z, ids, V);
    const double g = dlogp[t];
    std::vector<double> grad(V, 0.0);
    if (ids == nullptr) {
      for (int v = 0; v < V; ++v) grad[v] = -g * std::exp(z[v] - lse);
    } else {
      for (int v : *ids) grad[v] = -g * std::exp(z[v] - lse);
    }
    grad[target[t]] += g;
    for (int v = 0; v < V; ++v) dz[v] += float(grad[v]);
  }
}

void AttentionTargetRowReference(float* p, const float* q_row, const float* lse_row,
                                 const KeyRows& keys, int row, const AttentionShape& sh) {
  const RowSlots sl = SlotsOf(keys, row);
  const int D = sh.dim();
  std::vector<double> acc(sl.count, 0.0);
  double total = 0;
  for (int h = 0; h < sh.heads; ++h) {
    if (lse_row[h] == -std::numeric_limits<float>::infinity()) continue;
    for (int j = 0; j < sl.count; ++j) {
      if (!sl.valid(j)) continue;
      const double e = std::exp(
          sh.scale * DotD(q_row + size_t(h) * D, keys.base[row] + size_t(sl.key(j)) * D, D) -
          lse_row[h]);
      acc[j] += e;
      total += e;
    }
  }
  for (int j = 0; j < sl.count; ++j) p[j] = float(total > 0 ? acc[j] / total : 0.0);
}

IndexerLossStats IndexerLossReference(float* dq, float* dk, float* dw, const float* q,
                                      const float* k, const float* w, const KeyRows& keys,
                                      const int* support, int topk, const TargetFn& target,
                                      const IndexerShape& sh, int rows, int kv_rows,
                                      float grad_scale) {
  (void)kv_rows;  // dk is indexed through keys.base; its size is the caller's contract
  const double c = 1.0 / std::sqrt(double(sh.dim));
  IndexerLossStats st;
  for (int i = 0; i < rows; ++i) {
    const int n = keys.n_keys[i];
    const float* kb = keys.base[i];
    const float* qi = q + size_t(i) * sh.heads * sh.dim;
    const float* wi = w + size_t(i) * sh.heads;
    std::vector<int> slot;
    if (support == nullptr) {
      for (int s = 0; s < n; ++s) slot.push_back(s);
    } else {
      slot.assign(support + size_t(i) * topk, support + size_t(i + 1) * topk);
    }
    const int m = slot.size();
    auto valid = [&](int j) { return slot[j] >= 0 && slot[j] < n; };
    std::vector<float> p(m, 0.0f);
    target(i, p.data());
    // I_s = c sum_h w_h relu(q_h . k_s);  log softmax over the valid slots.
    std::vector<double> score(m, -std::numeric_limits<double>::infinity());
    double mx = -std::numeric_limits<double>::infinity();
    for (int j = 0; j < m; ++j) {
      if (!valid(j)) continue;
      double s = 0;
      for (int h = 0; h < sh.heads; ++h) {
        s += wi[h] *
             std::max(0.0, DotD(qi + size_t(h) * sh.dim, kb + size_t(slot[j]) * sh.dim, sh.dim));
      }
      score[j] = c * s;
      mx = std::max(mx, score[j]);
    }
    double z = 0;
    for (int j = 0; j < m; ++j) {
      if (valid(j)) z += std::exp(score[j] - mx);
    }
    const double lz = mx + std::log(z);
    double kl = 0;
    for (int j = 0; j < m; ++j) {
      if (valid(j) && p[j] > 0) kl += p[j] * (std::log(double(p[j])) - (score[j] - lz));
    }
    st.kl_sum += kl;
    st.rows += 1;
    if (support == nullptr && topk > 0 && m > topk) {
      std::vector<float> fscore(score.begin(), score.end());
      std::vector<int> top(topk);
      TopKRowReference(top.data(), fscore.data(), m, topk);
      for (int j : top) st.recall_sum += j >= 0 ? p[j] : 0.0f;
      st.recall_rows += 1;
    }
    for (int j = 0; j < m; ++j) {
      if (!valid(j)) continue;
      const double g = grad_scale * (std::exp(score[j] - lz) - p[j]);
      const float* ks = kb + size_t(slot[j]) * sh.dim;
      for (int h = 0; h < sh.heads; ++h) {
        const float* qh = qi + size_t(h) * sh.dim;
        const double d = DotD(qh, ks, sh.dim);
        if (d <= 0) continue;
        if (dw != nullptr) dw[size_t(i) * sh.heads + h] += float(g * c * d);
        const double gd = g * c * wi[h];
        for (int e = 0; e < sh.dim; ++e) {
          if (dq != nullptr) dq[(size_t(i) * sh.heads + h) * sh.dim + e] += float(gd * ks[e]);
          if (dk != nullptr) dk[size_t(kb - k) + size_t(slot[j]) * sh.dim + e] += float(gd * qh[e]);
        }
      }
    }
  }
  return st;
}

const FfnKernels& ReferenceFfnKernels() {
  static const FfnKernels kReference{MatmulForwardReference, MatmulBackwardReference,
                                     SwiGluForwardReference, SwiGluBackwardReference};
  return kReference;
}

void MlpForwardReference(float* y, MlpActs* acts, const float* x, const MlpTensors& w, int T, int D,
                         bool accumulate) {
  MlpForwardWith(ReferenceFfnKernels(), y, acts, x, w, T, D, accumulate);
}

void MlpBackwardReference(float* dx, const MlpTensors& gw, const float* dy, const float* x,
                          const MlpActs& acts, const MlpTensors& w, int T, int D) {
  MlpBackwardWith(ReferenceFfnKernels(), dx, gw, dy, x, acts, w, T, D);
}

void MoeForwardReference(float* y, MoeActs* acts, const float* x, const LayerTensors& w,
                         const ModelDims& d, const int* forced, int T) {
  MoeForwardWith(ReferenceFfnKernels(), y, acts, x, w, d, forced, T);
}

void MoeBackwardReference(float* dx, const LayerTensors& gw, const float* dy, const float* x,
                          const MoeActs& acts, const LayerTensors& w, const ModelDims& d, int T) {
  MoeBackwardWith(ReferenceFfnKernels(), dx, gw, dy, x, acts, w, d, T);
}

}  // namespace dsarl::model::cpu

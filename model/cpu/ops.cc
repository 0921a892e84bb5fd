#include "model/cpu/ops.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace dsarl::model::cpu {

// Below this many elements a loop runs on the calling thread: waking the team costs more.
constexpr size_t kParallelMin = size_t(1) << 15;

void Gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

void MatmulForward(float* out, const float* in, const float* w, int T, int K, int N,
                   bool accumulate, int ld_out, int ld_in) {
  if (T == 0 || N == 0) return;
  if (ld_out < 0) ld_out = N;
  if (ld_in < 0) ld_in = K;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1.0f, in, ld_in, w, K,
              accumulate ? 1.0f : 0.0f, out, ld_out);
}

void MatmulBackward(float* din, float* dw, const float* dout, const float* in, const float* w,
                    int T, int K, int N, int ld_dout, int ld_in, int ld_din) {
  if (T == 0) return;
  if (ld_dout < 0) ld_dout = N;
  if (ld_in < 0) ld_in = K;
  if (ld_din < 0) ld_din = K;
  // din = dout @ W  (forward: out = in @ W^T)
  if (din != nullptr) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, K, N, 1.0f, dout, ld_dout, w, K, 1.0f,
                din, ld_din);
  }
  // dW = dout^T @ in
  if (dw != nullptr) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, T, 1.0f, dout, ld_dout, in, ld_in,
                1.0f, dw, K);
  }
}

void RmsNormForward(float* out, float* rstd, const float* in, const float* w, int T, int C,
                    float eps, int ld_in) {
  if (ld_in < 0) ld_in = C;
#pragma omp parallel for schedule(static) if (size_t(T) * C >= kParallelMin)
  for (int t = 0; t < T; ++t) {
    const float* x = in + size_t(t) * ld_in;
    double ss = 0;
    for (int i = 0; i < C; ++i) ss += double(x[i]) * x[i];
    float r = 1.0f / std::sqrt(float(ss / C) + eps);
    rstd[t] = r;
    float* y = out + size_t(t) * C;
    for (int i = 0; i < C; ++i) y[i] = x[i] * r * w[i];
  }
}

void RmsNormBackward(float* din, float* dw, const float* dout, const float* in, const float* w,
                     const float* rstd, int T, int C, int ld_in, int ld_din) {
  if (ld_in < 0) ld_in = C;
  if (ld_din < 0) ld_din = C;
  // y_i = x_i r w_i, r = (mean(x^2) + eps)^-1/2:  dx_i = r (w_i dy_i) - x_i r^3 / C sum_j w_j dy_j
  // x_j
  if (din != nullptr) {
#pragma omp parallel for schedule(static) if (size_t(T) * C >= kParallelMin)
    for (int t = 0; t < T; ++t) {
      const float* x = in + size_t(t) * ld_in;
      const float* dy = dout + size_t(t) * C;
      const float r = rstd[t];
      double dot = 0;
      for (int i = 0; i < C; ++i) dot += double(dy[i]) * w[i] * x[i];
      const float k = float(dot) * r * r * r / C;
      float* dx = din + size_t(t) * ld_din;
      for (int i = 0; i < C; ++i) dx[i] += r * w[i] * dy[i] - k * x[i];
    }
  }
  if (dw != nullptr) {
    for (int t = 0; t < T; ++t) {
      const float* x = in + size_t(t) * ld_in;
      const float* dy = dout + size_t(t) * C;
      for (int i = 0; i < C; ++i) dw[i] += dy[i] * x[i] * rstd[t];
    }
  }
}

void LayerNormForward(float* out, float* mean, float* rstd, const float* in, const float* w,
                      const float* b, int T, int C, float eps) {
#pragma omp parallel for schedule(static) if (size_t(T) * C >= kParallelMin)
  for (int t = 0; t < T; ++t) {
    const float* x = in + size_t(t) * C;
    double m = 0;
    for (int i = 0; i < C; ++i) m += x[i];
    m /= C;
    double v = 0;
    for (int i = 0; i < C; ++i) v += (x[i] - m) * (x[i] - m);
    v /= C;
    float r = 1.0f / std::sqrt(float(v) + eps);
    mean[t] = float(m);
    rstd[t] = r;
    float* y = out + size_t(t) * C;
    for (int i = 0; i < C; ++i) y[i] = (x[i] - float(m)) * r * w[i] + b[i];
  }
}

void LayerNormBackward(float* din, float* dw, float* db, const float* dout, const float* in,
                       const float* w, const float* mean, const float* rstd, int T, int C) {
  for (int t = 0; t < T; ++t) {
    const float* x = in + size_t(t) * C;
    const float* dy = dout + size_t(t) * C;
    const float m = mean[t], r = rstd[t];
    // xhat = (x - m) r;  dxhat = dy w;  dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
    double s1 = 0, s2 = 0;
    for (int i = 0; i < C; ++i) {
      float xh = (x[i] - m) * r;
      float g = dy[i] * w[i];
      s1 += g;
      s2 += double(g) * xh;
      if (dw != nullptr) dw[i] += dy[i] * xh;
      if (db != nullptr) db[i] += dy[i];
    }
    if (din != nullptr) {
      const float a = float(s1 / C), c = float(s2 / C);
      float* dx = din + size_t(t) * C;
      for (int i = 0; i < C; ++i) {
        float xh = (x[i] - m) * r;
        dx[i] += r * (dy[i] * w[i] - a - xh * c);
      }
    }
  }
}

void SwiGluForward(float* out, const float* g, const float* u, int T, int F) {
  const size_t n = size_t(T) * F;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (size_t i = 0; i < n; ++i) {
    float s = 1.0f / (1.0f + std::exp(-g[i]));
    out[i] = g[i] * s * u[i];
  }
}

void SwiGluBackward(float* dg, float* du, const float* dout, const float* g, const float* u, int T,
                    int F) {
  const size_t n = size_t(T) * F;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (size_t i = 0; i < n; ++i) {
    float s = 1.0f / (1.0f + std::exp(-g[i]));
    // d silu(g)/dg = s (1 + g (1 - s))
    dg[i] += dout[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    du[i] += dout[i] * g[i] * s;
  }
}

void EmbeddingForward(float* out, const int* tokens, const float* table, int T, int C) {
  for (int t = 0; t < T; ++t) {
    std::copy_n(table + size_t(tokens[t]) * C, C, out + size_t(t) * C);
  }
}

void EmbeddingBackward(float* dtable, const float* dout, const int* tokens, int T, int C) {
  for (int t = 0; t < T; ++t) {
    float* d = dtable + size_t(tokens[t]) * C;
    const float* g = dout + size_t(t) * C;
    for (int i = 0; i < C; ++i) d[i] += g[i];
  }
}

RopeTable MakeRopeTable(int rope, int max_pos, float theta, float factor, int original_max_pos,
                        float beta_fast, float beta_slow, float mscale, float mscale_all_dim) {
  RopeTable tab;
  tab.rope = rope;
  tab.max_pos = max_pos;
  const int half = rope / 2;
  std::vector<double> freq(half);
  for (int i = 0; i < half; ++i) freq[i] = 1.0 / std::pow(double(theta), 2.0 * i / rope);
  double amp = 1.0;
  if (factor > 1.0f) {
    // DeepSeek's YaRN: blend interpolated (freq / factor) and original frequencies with a ramp
    // over the dims whose wavelength falls between beta_fast and beta_slow rotations.
    auto corr_dim = [&](double rotations) {
      return rope * std::log(original_max_pos / (rotations * 2 * M_PI)) / (2 * std::log(theta));
    };
    double low = std::max(0.0, std::floor(corr_dim(beta_fast)));
    double high = std::min(double(rope - 1), std::ceil(corr_dim(beta_slow)));
    if (low == high) high += 0.001;
    for (int i = 0; i < half; ++i) {
      double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      double smooth = 1.0 - ramp;
      freq[i] = freq[i] / factor * (1 - smooth) + freq[i] * smooth;
    }
    auto yarn_mscale = [&](double m) { return 0.1 * m * std::log(double(factor)) + 1.0; };
    amp = yarn_mscale(mscale) / yarn_mscale(mscale_all_dim);
  }
  tab.cos.resize(size_t(max_pos) * half);
  tab.sin.resize(size_t(max_pos) * half);
  for (int p = 0; p < max_pos; ++p) {
    for (int i = 0; i < half; ++i) {
      double a = p * freq[i];
      tab.cos[size_t(p) * half + i] = float(std::cos(a) * amp);
      tab.sin[size_t(p) * half + i] = float(std::sin(a) * amp);
    }
  }
  return tab;
}

namespace {

template <bool kInterleaved>
void Rope(float* x, const int* pos, const RopeTable& tab, int T, int heads, int row_stride,
          int head_stride, int col, bool inverse) {
  const int half = tab.rope / 2;
  const float sign = inverse ? -1.0f : 1.0f;
  // With amp != 1 (YaRN mscale ratio) the backward of y = A R x is R^T A dy: same scaled table,
  // opposite angle.
#pragma omp parallel for schedule(static) if (size_t(T) * heads * half >= kParallelMin)
  for (int t = 0; t < T; ++t) {
    const float* c = tab.cos.data() + size_t(pos[t]) * half;
    const float* s = tab.sin.data() + size_t(pos[t]) * half;
    for (int h = 0; h < heads; ++h) {
      float* v = x + size_t(t) * row_stride + size_t(h) * head_stride + col;
      for (int i = 0; i < half; ++i) {
        float& a = kInterleaved ? v[2 * i] : v[i];
        float& b = kInterleaved ? v[2 * i + 1] : v[i + half];
        const float ci = c[i], si = sign * s[i];
        const float a0 = a, b0 = b;
        a = a0 * ci - b0 * si;
        b = a0 * si + b0 * ci;
      }
    }
  }
}

}  // namespace

void RopeInterleaved(float* x, const int* pos, const RopeTable& table, int T, int heads,
                     int row_stride, int head_stride, int col, bool inverse) {
  Rope<true>(x, pos, table, T, heads, row_stride, head_stride, col, inverse);
}

void RopeHalf(float* x, const int* pos, const RopeTable& table, int T, int heads, int row_stride,
              int head_stride, int col, bool inverse) {
  Rope<false>(x, pos, table, T, heads, row_stride, head_stride, col, inverse);
}

namespace {

// log-sum-exp over `ids` (all V when ids is empty).
double LogSumExp(const float* z, const std::vector<int>* ids, int V) {
  float mx = -std::numeric_limits<float>::infinity();
  if (ids == nullptr || ids->empty()) {
    for (int v = 0; v < V; ++v) mx = std::max(mx, z[v]);
    double s = 0;
    for (int v = 0; v < V; ++v) s += std::exp(double(z[v] - mx));
    return mx + std::log(s);
  }
  for (int v : *ids) mx = std::max(mx, z[v]);
  double s = 0;
  for (int v : *ids) s += std::exp(double(z[v] - mx));
  return mx + std::log(s);
}

const std::vector<int>* KeptAt(const std::vector<std::vector<int>>* kept, int t) {
  if (kept == nullptr || t >= static_cast<int>(kept->size()) || (*kept)[t].empty()) return nullptr;
  return &(*kept)[t];
}

}  // namespace

void LogProbForward(float* logp, float* entropy, const float* logits, const int* target,
                    const std::vector<std::vector<int>>* kept, int T, int V) {
#pragma omp parallel for schedule(static) if (size_t(T) * V >= kParallelMin)
  for (int t = 0; t < T; ++t) {
    const float* z = logits + size_t(t) * V;
    if (entropy != nullptr) {
      double lse = LogSumExp(z, nullptr, V), h = 0;
      for (int v = 0; v < V; ++v) {
        double lp = z[v] - lse;
        h -= std::exp(lp) * lp;
      }
      entropy[t] = float(h);
    }
    if (target[t] < 0) {
      logp[t] = 0.0f;
      continue;
    }
    logp[t] = float(z[target[t]] - LogSumExp(z, KeptAt(kept, t), V));
  }
}

void LogProbBackward(float* dlogits, const float* dlogp, const float* logits, const int* target,
                     const std::vector<std::vector<int>>* kept, int T, int V) {
#pragma omp parallel for schedule(static) if (size_t(T) * V >= kParallelMin)
  for (int t = 0; t < T; ++t) {
    if (target[t] < 0 || dlogp[t] == 0.0f) continue;
    const float* z = logits + size_t(t) * V;
    float* dz = dlogits + size_t(t) * V;
    const std::vector<int>* ids = KeptAt(kept, t);
    const double lse = LogSumExp(z, ids, V);
    const float g = dlogp[t];
    // logp = z[y] - lse(z over set):  d/dz_v = 1[v = y] - softmax_set(z)_v for v in the set.
    if (ids == nullptr) {
      for (int v = 0; v < V; ++v) dz[v] -= g * float(std::exp(z[v] - lse));
    } else {
      for (int v : *ids) dz[v] -= g * float(std::exp(z[v] - lse));
    }
    dz[target[t]] += g;
  }
}

}  // namespace dsarl::model::cpu

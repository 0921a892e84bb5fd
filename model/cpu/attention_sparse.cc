#include "model/cpu/attention_sparse.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dsarl::model::cpu {
namespace {

// H heads form the vector lanes. Scores take kKeys keys at a time so that many independent
// accumulators hide the FMA latency; outputs take kCols value columns at a time for the same reason.
template <int H>
void RowForward(float* o, float* lse, const float* q, const AttentionShape& sh,
                SparseRowScratch* sc) {
  constexpr int kKeys = 8, kCols = 8;
  const int D = sh.dim(), dc = sh.d_c;
  const int m = sc->key.size();
  const float* const* key = sc->key.data();
  sc->q_t.resize(size_t(D) * H);
  float* qt = sc->q_t.data();
  for (int h = 0; h < H; ++h) {
    for (int e = 0; e < D; ++e) qt[size_t(e) * H + h] = q[size_t(h) * D + e] * sh.scale;
  }
  sc->p.resize(size_t(m) * H);
  float* p = sc->p.data();
  int j = 0;
  for (; j + kKeys <= m; j += kKeys) {
    float acc[kKeys][H] = {};
    for (int e = 0; e < D; ++e) {
      const float* qe = qt + size_t(e) * H;
      for (int t = 0; t < kKeys; ++t) {
        const float k = key[j + t][e];
#pragma omp simd
        for (int h = 0; h < H; ++h) acc[t][h] += qe[h] * k;
      }
    }
    for (int t = 0; t < kKeys; ++t) std::copy_n(acc[t], H, p + size_t(j + t) * H);
  }
  for (; j < m; ++j) {
    float acc[H] = {};
    for (int e = 0; e < D; ++e) {
      const float* qe = qt + size_t(e) * H;
      const float k = key[j][e];
#pragma omp simd
      for (int h = 0; h < H; ++h) acc[h] += qe[h] * k;
    }
    std::copy_n(acc, H, p + size_t(j) * H);
  }
  // Softmax over the keys, per head.
  float mx[H], l[H] = {};
  std::fill_n(mx, H, -std::numeric_limits<float>::infinity());
  for (int s = 0; s < m; ++s) {
#pragma omp simd
    for (int h = 0; h < H; ++h) mx[h] = std::max(mx[h], p[size_t(s) * H + h]);
  }
  for (int s = 0; s < m; ++s) {
    float* ps = p + size_t(s) * H;
#pragma omp simd
    for (int h = 0; h < H; ++h) {
      ps[h] = std::exp(ps[h] - mx[h]);
      l[h] += ps[h];
    }
  }
  float inv[H];
  for (int h = 0; h < H; ++h) {
    inv[h] = 1.0f / l[h];
    lse[h] = mx[h] + std::log(l[h]);
  }
  // o[h, c] = sum_s p[s, h] c_kv,s[c] / l[h]
  for (int c0 = 0; c0 < dc; c0 += kCols) {
    float acc[kCols][H] = {};
    if (c0 + kCols <= dc) {
      for (int s = 0; s < m; ++s) {
        const float* ps = p + size_t(s) * H;
        const float* ks = key[s] + c0;
        for (int t = 0; t < kCols; ++t) {
          const float k = ks[t];
#pragma omp simd
          for (int h = 0; h < H; ++h) acc[t][h] += ps[h] * k;
        }
      }
    } else {
      for (int s = 0; s < m; ++s) {
        const float* ps = p + size_t(s) * H;
        for (int t = 0; t < dc - c0; ++t) {
          const float k = key[s][c0 + t];
          for (int h = 0; h < H; ++h) acc[t][h] += ps[h] * k;
        }
      }
    }
    for (int t = 0; t < std::min(kCols, dc - c0); ++t) {
      for (int h = 0; h < H; ++h) o[size_t(h) * dc + c0 + t] = acc[t][h] * inv[h];
    }
  }
}

}  // namespace

bool SparseRowForward(float* o, float* lse, const float* q, const float* base, const int* idx,
                      int topk, int n, const AttentionShape& sh, SparseRowScratch* sc) {
  const int H = sh.heads;
  if (H != 4 && H != 8 && H != 16 && H != 32) return false;
  sc->key.clear();
  for (int j = 0; j < topk; ++j) {
    if (idx[j] >= 0 && idx[j] < n) sc->key.push_back(base + size_t(idx[j]) * sh.dim());
  }
  if (sc->key.empty()) {
    std::fill(o, o + size_t(H) * sh.d_c, 0.0f);
    std::fill(lse, lse + H, -std::numeric_limits<float>::infinity());
    return true;
  }
  switch (H) {
    case 4: RowForward<4>(o, lse, q, sh, sc); break;
    case 8: RowForward<8>(o, lse, q, sh, sc); break;
    case 16: RowForward<16>(o, lse, q, sh, sc); break;
    default: RowForward<32>(o, lse, q, sh, sc); break;
  }
  return true;
}

}  // namespace dsarl::model::cpu

#include "model/cpu/attention_sparse.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dsarl::model::cpu {
namespace {

// H heads form the vector lanes throughout. Each step below is called once per row, from
// RowForward only, so the compiler inlines it there: the split costs nothing at run time.

// p[s, h] = scale * q[h] . key[s] for the row's m selected keys; q[H, D] is first transposed and
// scaled into q_t[D, H]. Keys are taken kKeys at a time so that many independent accumulators hide
// the FMA latency.
template <int H>
void ScoreSelectedKeys(float* p, const float* q, const AttentionShape& sh, SparseRowScratch* sc) {
  constexpr int kKeys = 8;
  const int D = sh.dim();
  const int m = sc->key.size();
  const float* const* key = sc->key.data();
  sc->q_t.resize(size_t(D) * H);
  float* qt = sc->q_t.data();
  for (int h = 0; h < H; ++h) {
    for (int e = 0; e < D; ++e) qt[size_t(e) * H + h] = q[size_t(h) * D + e] * sh.scale;
  }
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
}

// Softmax over the m keys, per head: p[m, H] becomes exp(p - max), unnormalized; lse[h] and
// inv[h] = 1 / sum_s p[s, h] are written.
template <int H>
void SoftmaxOverKeys(float* p, float* lse, float* inv, int m) {
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
  for (int h = 0; h < H; ++h) {
    inv[h] = 1.0f / l[h];
    lse[h] = mx[h] + std::log(l[h]);
  }
}

// o[h, c] = inv[h] sum_s p[s, h] c_kv,s[c], kCols value columns at a time (independent
// accumulators, as for the scores).
template <int H>
void WeightValues(float* o, const float* p, const float* inv, const AttentionShape& sh,
                  const SparseRowScratch& sc) {
  constexpr int kCols = 8;
  const int dc = sh.d_c;
  const int m = sc.key.size();
  const float* const* key = sc.key.data();
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

// o[H, d_c] and lse[H] of one query row q[H, D] over the keys in sc->key.
template <int H>
void RowForward(float* o, float* lse, const float* q, const AttentionShape& sh,
                SparseRowScratch* sc) {
  sc->p.resize(sc->key.size() * H);
  float inv[H];
  ScoreSelectedKeys<H>(sc->p.data(), q, sh, sc);
  SoftmaxOverKeys<H>(sc->p.data(), lse, inv, sc->key.size());
  WeightValues<H>(o, sc->p.data(), inv, sh, *sc);
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
    case 4:
      RowForward<4>(o, lse, q, sh, sc);
      break;
    case 8:
      RowForward<8>(o, lse, q, sh, sc);
      break;
    case 16:
      RowForward<16>(o, lse, q, sh, sc);
      break;
    default:
      RowForward<32>(o, lse, q, sh, sc);
      break;
  }
  return true;
}

}  // namespace dsarl::model::cpu

#include "model/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace dsarl::model::cpu {
namespace {

inline float Dot(const float* a, const float* b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// The key slots a row visits: 0..n_keys-1 (dense) or its index list (sparse).
struct Slots {
  const int* idx;  // nullptr for dense
  int count;
  int n_keys;
  int key(int j) const { return idx == nullptr ? j : idx[j]; }
  bool valid(int j) const {
    if (idx == nullptr) return true;
    return idx[j] >= 0 && idx[j] < n_keys;
  }
};

Slots SlotsFor(const KeyRows& keys, int row) {
  if (keys.indices != nullptr) {
    return Slots{keys.indices + size_t(row) * keys.topk, keys.topk, keys.n_keys[row]};
  }
  return Slots{nullptr, keys.n_keys[row], keys.n_keys[row]};
}

}  // namespace

void AttentionForwardReference(float* o, float* lse, const float* q, const KeyRows& keys,
                               const AttentionShape& sh, int rows) {
  const int D = sh.dim(), H = sh.heads;
#pragma omp parallel if (rows >= 4)
  {
    std::vector<float> s;
#pragma omp for schedule(dynamic, 4)
    for (int i = 0; i < rows; ++i) {
      const Slots sl = SlotsFor(keys, i);
      const float* kv = keys.base[i];
      s.resize(sl.count);
      for (int h = 0; h < H; ++h) {
        const float* qh = q + (size_t(i) * H + h) * D;
        float* oh = o + (size_t(i) * H + h) * sh.d_c;
        float m = -std::numeric_limits<float>::infinity();
        for (int j = 0; j < sl.count; ++j) {
          if (!sl.valid(j)) continue;
          s[j] = sh.scale * Dot(qh, kv + size_t(sl.key(j)) * D, D);
          m = std::max(m, s[j]);
        }
        std::fill(oh, oh + sh.d_c, 0.0f);
        if (m == -std::numeric_limits<float>::infinity()) {  // no visible key
          lse[size_t(i) * H + h] = m;
          continue;
        }
        double l = 0;
        for (int j = 0; j < sl.count; ++j) {
          if (!sl.valid(j)) continue;
          const float e = std::exp(s[j] - m);
          l += e;
          const float* v = kv + size_t(sl.key(j)) * D;
#pragma omp simd
          for (int c = 0; c < sh.d_c; ++c) oh[c] += e * v[c];
        }
        const float inv = float(1.0 / l);
        for (int c = 0; c < sh.d_c; ++c) oh[c] *= inv;
        lse[size_t(i) * H + h] = m + float(std::log(l));
      }
    }
  }
}

void AttentionBackwardReference(float* dq, float* dkv, const float* d_o, const float* q,
                                const float* kv, const KeyRows& keys, const float* o,
                                const float* lse, const AttentionShape& sh, int rows, int kv_rows) {
  const int D = sh.dim(), H = sh.heads;
  const int nt = omp_get_max_threads();
  // Each thread accumulates key gradients privately; the fixed-order sum below keeps the result
  // deterministic for a given thread count.
  std::vector<std::vector<float>> local(nt);
#pragma omp parallel if (rows >= 4)
  {
    const int tid = omp_get_thread_num();
    std::vector<float>& acc = local[tid];
    acc.assign(size_t(kv_rows) * D, 0.0f);
#pragma omp for schedule(static)
    for (int i = 0; i < rows; ++i) {
      const Slots sl = SlotsFor(keys, i);
      const float* kb = keys.base[i];
      float* dkb = acc.data() + (kb - kv);
      for (int h = 0; h < H; ++h) {
        const float L = lse[size_t(i) * H + h];
        if (L == -std::numeric_limits<float>::infinity()) continue;
        const float* qh = q + (size_t(i) * H + h) * D;
        const float* oh = o + (size_t(i) * H + h) * sh.d_c;
        const float* doh = d_o + (size_t(i) * H + h) * sh.d_c;
        float* dqh = dq + (size_t(i) * H + h) * D;
        const float delta = Dot(doh, oh, sh.d_c);
        for (int j = 0; j < sl.count; ++j) {
          if (!sl.valid(j)) continue;
          const float* v = kb + size_t(sl.key(j)) * D;
          float* dv = dkb + size_t(sl.key(j)) * D;
          // forward: s = scale q.kv;  p = exp(s - lse);  o = sum p v[:d_c]
          const float p = std::exp(sh.scale * Dot(qh, v, D) - L);
          const float dp = Dot(doh, v, sh.d_c);
          const float ds = p * (dp - delta) * sh.scale;
#pragma omp simd
          for (int c = 0; c < D; ++c) {
            dqh[c] += ds * v[c];
            dv[c] += ds * qh[c];
          }
#pragma omp simd
          for (int c = 0; c < sh.d_c; ++c) dv[c] += p * doh[c];
        }
      }
    }
  }
  const size_t n = size_t(kv_rows) * D;
  for (int t = 0; t < nt; ++t) {
    if (local[t].empty()) continue;
    const float* a = local[t].data();
#pragma omp parallel for schedule(static) if (n >= (size_t(1) << 15))
    for (size_t k = 0; k < n; ++k) dkv[k] += a[k];
  }
}

void AttentionTargetRow(float* p, const float* q_row, const float* lse_row, const KeyRows& keys,
                        int row, const AttentionShape& sh) {
  const Slots sl = SlotsFor(keys, row);
  const float* kb = keys.base[row];
  const int D = sh.dim();
  std::fill(p, p + sl.count, 0.0f);
  double total = 0;
  for (int h = 0; h < sh.heads; ++h) {
    const float L = lse_row[h];
    if (L == -std::numeric_limits<float>::infinity()) continue;
    const float* qh = q_row + size_t(h) * D;
    for (int j = 0; j < sl.count; ++j) {
      if (!sl.valid(j)) continue;
      const float e = std::exp(sh.scale * Dot(qh, kb + size_t(sl.key(j)) * D, D) - L);
      p[j] += e;
      total += e;
    }
  }
  if (total > 0) {
    const float inv = float(1.0 / total);
    for (int j = 0; j < sl.count; ++j) p[j] *= inv;
  }
}

}  // namespace dsarl::model::cpu

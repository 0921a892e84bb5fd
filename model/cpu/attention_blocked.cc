// Fast dense attention: rows that share a key base (one sequence) are taken in blocks, and scores,
// softmax-weighted values and their gradients become sgemm calls on [block * H, n_keys] panels.
// Sparse (top-k) rows go through the per-row reference loops, which touch only their k keys.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "model/cpu/attention.h"
#include "model/cpu/ops.h"

namespace dsarl::model::cpu {
namespace {

constexpr size_t kPanelFloats = size_t(2) << 20;  // 8 MiB of scores per block

// Next block [r, end) of rows sharing keys.base[r], sized so the score panel fits kPanelFloats.
int BlockEnd(const KeyRows& keys, int r, int rows, int heads, int* n_max) {
  int end = r;
  *n_max = 0;
  while (end < rows && keys.base[end] == keys.base[r]) {
    const int n = std::max(*n_max, keys.n_keys[end]);
    if (end > r && size_t(end - r + 1) * heads * n > kPanelFloats) break;
    *n_max = n;
    ++end;
  }
  return end;
}

// p[i*H + h, :] = exp(scale * s - lse) over the row's visible keys, 0 beyond; computes lse when
// `lse_out` is non-null, else reads it from `lse_in`.
void SoftmaxPanel(float* p, float* lse_out, const float* lse_in, const KeyRows& keys, int r,
                  int b, int H, int n_max) {
  for (int i = 0; i < b; ++i) {
    const int n = keys.n_keys[r + i];
    for (int h = 0; h < H; ++h) {
      float* row = p + (size_t(i) * H + h) * n_max;
      std::fill(row + n, row + n_max, 0.0f);
      float L;
      if (lse_out != nullptr) {
        float m = -std::numeric_limits<float>::infinity();
        for (int j = 0; j < n; ++j) m = std::max(m, row[j]);
        if (n == 0) {
          lse_out[size_t(r + i) * H + h] = m;
          continue;
        }
        double l = 0;
        for (int j = 0; j < n; ++j) l += std::exp(row[j] - m);
        L = m + float(std::log(l));
        lse_out[size_t(r + i) * H + h] = L;
      } else {
        L = lse_in[size_t(r + i) * H + h];
        if (n == 0) continue;
      }
      for (int j = 0; j < n; ++j) row[j] = std::exp(row[j] - L);
    }
  }
}

}  // namespace

void AttentionForward(float* o, float* lse, const float* q, const KeyRows& keys,
                      const AttentionShape& sh, int rows) {
  if (keys.indices != nullptr) {
    AttentionForwardReference(o, lse, q, keys, sh, rows);
    return;
  }
  const int D = sh.dim(), H = sh.heads;
  std::vector<float> p;
  for (int r = 0; r < rows;) {
    int n_max;
    const int end = BlockEnd(keys, r, rows, H, &n_max);
    const int b = end - r;
    p.resize(size_t(b) * H * n_max);
    const float* kv = keys.base[r];
    // s = scale q . kv  for every (row, head) of the block and every key up to n_max.
    Gemm(false, true, b * H, n_max, D, sh.scale, q + size_t(r) * H * D, D, kv, D, 0.0f, p.data(),
         n_max);
    SoftmaxPanel(p.data(), lse, nullptr, keys, r, b, H, n_max);
    // o = p @ c_kv  (values are the first d_c dims of each key)
    Gemm(false, false, b * H, sh.d_c, n_max, 1.0f, p.data(), n_max, kv, D, 0.0f,
         o + size_t(r) * H * sh.d_c, sh.d_c);
    r = end;
  }
}

void AttentionBackward(float* dq, float* dkv, const float* d_o, const float* q, const float* kv,
                       const KeyRows& keys, const float* o, const float* lse,
                       const AttentionShape& sh, int rows, int kv_rows) {
  if (keys.indices != nullptr) {
    AttentionBackwardReference(dq, dkv, d_o, q, kv, keys, o, lse, sh, rows, kv_rows);
    return;
  }
  const int D = sh.dim(), H = sh.heads;
  std::vector<float> p, dp;
  for (int r = 0; r < rows;) {
    int n_max;
    const int end = BlockEnd(keys, r, rows, H, &n_max);
    const int b = end - r;
    const int m = b * H;
    const float* kb = keys.base[r];
    float* dkb = dkv + (kb - kv);
    const float* qb = q + size_t(r) * H * D;
    const float* dob = d_o + size_t(r) * H * sh.d_c;
    p.resize(size_t(m) * n_max);
    dp.resize(size_t(m) * n_max);
    // Recompute p from the saved log-sum-exp.
    Gemm(false, true, m, n_max, D, sh.scale, qb, D, kb, D, 0.0f, p.data(), n_max);
    SoftmaxPanel(p.data(), nullptr, lse, keys, r, b, H, n_max);
    // dp = do @ c_kv^T;  ds = p (dp - do . o) scale
    Gemm(false, true, m, n_max, sh.d_c, 1.0f, dob, sh.d_c, kb, D, 0.0f, dp.data(), n_max);
    for (int i = 0; i < m; ++i) {
      const float* doi = dob + size_t(i) * sh.d_c;
      const float* oi = o + (size_t(r) * H + i) * sh.d_c;
      float delta = 0.0f;
      for (int c = 0; c < sh.d_c; ++c) delta += doi[c] * oi[c];
      float* pr = &p[size_t(i) * n_max];
      float* dr = &dp[size_t(i) * n_max];
      for (int j = 0; j < n_max; ++j) dr[j] = pr[j] * (dr[j] - delta) * sh.scale;
    }
    // dq += ds @ kv;  dkv += ds^T @ q;  dkv[:, :d_c] += p^T @ do
    Gemm(false, false, m, D, n_max, 1.0f, dp.data(), n_max, kb, D, 1.0f,
         dq + size_t(r) * H * D, D);
    Gemm(true, false, n_max, D, m, 1.0f, dp.data(), n_max, qb, D, 1.0f, dkb, D);
    Gemm(true, false, n_max, sh.d_c, m, 1.0f, p.data(), n_max, dob, sh.d_c, 1.0f, dkb, D);
    r = end;
  }
}

}  // namespace dsarl::model::cpu

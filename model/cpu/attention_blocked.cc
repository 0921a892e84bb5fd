// Fast dense attention: rows that share a key base (one sequence) are taken in blocks, and scores,
// softmax-weighted values and their gradients become sgemm calls on [block * H, n_keys] panels.
// Sparse (top-k) rows gather their k keys into a panel per row and use small sgemm calls.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "model/cpu/attention.h"
#include "model/cpu/attention_sparse.h"
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
void SoftmaxPanel(float* p, float* lse_out, const float* lse_in, const KeyRows& keys, int r, int b,
                  int H, int n_max) {
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

// Sparse rows: SparseRowForward reads the selected keys in place where the head count has a
// kernel; otherwise each row gathers its keys into a contiguous panel [m, D] so the scores and the
// weighted sum are two small sgemm calls (run single-threaded inside the row loop).
void SparseForward(float* o, float* lse, const float* q, const KeyRows& keys,
                   const AttentionShape& sh, int rows) {
  const int D = sh.dim(), H = sh.heads, K = keys.topk;
#pragma omp parallel if (rows >= 4)
  {
    std::vector<float> g, p;
    SparseRowScratch scratch;
#pragma omp for schedule(dynamic, 8)
    for (int i = 0; i < rows; ++i) {
      const int* idx = keys.indices + size_t(i) * K;
      const int n = keys.n_keys[i];
      if (SparseRowForward(o + size_t(i) * H * sh.d_c, lse + size_t(i) * H, q + size_t(i) * H * D,
                           keys.base[i], idx, K, n, sh, &scratch)) {
        continue;
      }
      g.resize(size_t(K) * D);
      p.resize(size_t(H) * K);
      int m = 0;
      for (int j = 0; j < K; ++j) {
        if (idx[j] < 0 || idx[j] >= n) continue;
        std::copy_n(keys.base[i] + size_t(idx[j]) * D, D, &g[size_t(m) * D]);
        ++m;
      }
      float* oi = o + size_t(i) * H * sh.d_c;
      if (m == 0) {
        std::fill(oi, oi + H * sh.d_c, 0.0f);
        for (int h = 0; h < H; ++h)
          lse[size_t(i) * H + h] = -std::numeric_limits<float>::infinity();
        continue;
      }
      Gemm(false, true, H, m, D, sh.scale, q + size_t(i) * H * D, D, g.data(), D, 0.0f, p.data(),
           m);
      for (int h = 0; h < H; ++h) {
        float* row = &p[size_t(h) * m];
        float mx = -std::numeric_limits<float>::infinity();
        for (int j = 0; j < m; ++j) mx = std::max(mx, row[j]);
        double l = 0;
        for (int j = 0; j < m; ++j) l += std::exp(row[j] - mx);
        const float L = mx + float(std::log(l));
        lse[size_t(i) * H + h] = L;
        for (int j = 0; j < m; ++j) row[j] = std::exp(row[j] - L);
      }
      Gemm(false, false, H, sh.d_c, m, 1.0f, p.data(), m, g.data(), D, 0.0f, oi, sh.d_c);
    }
  }
}

void SparseBackward(float* dq, float* dkv, const float* d_o, const float* q, const float* kv,
                    const KeyRows& keys, const float* o, const float* lse, const AttentionShape& sh,
                    int rows, int kv_rows) {
  const int D = sh.dim(), H = sh.heads, K = keys.topk;
  const int nt = omp_get_max_threads();
  std::vector<std::vector<float>> local(nt);
#pragma omp parallel if (rows >= 4)
  {
    std::vector<float>& acc = local[omp_get_thread_num()];
    acc.assign(size_t(kv_rows) * D, 0.0f);
    std::vector<float> g(size_t(K) * D), dg(size_t(K) * D), p(size_t(H) * K), dp(size_t(H) * K);
    std::vector<int> key(K);
#pragma omp for schedule(static)
    for (int i = 0; i < rows; ++i) {
      const int* idx = keys.indices + size_t(i) * K;
      const int n = keys.n_keys[i];
      const size_t off = keys.base[i] - kv;
      int m = 0;
      for (int j = 0; j < K; ++j) {
        if (idx[j] < 0 || idx[j] >= n) continue;
        key[m] = idx[j];
        std::copy_n(keys.base[i] + size_t(idx[j]) * D, D, &g[size_t(m) * D]);
        ++m;
      }
      if (m == 0) continue;
      const float* qi = q + size_t(i) * H * D;
      const float* doi = d_o + size_t(i) * H * sh.d_c;
      const float* oi = o + size_t(i) * H * sh.d_c;
      // p = exp(scale q g^T - lse);  dp = do g[:, :d_c]^T;  ds = p (dp - do . o) scale
      Gemm(false, true, H, m, D, sh.scale, qi, D, g.data(), D, 0.0f, p.data(), m);
      Gemm(false, true, H, m, sh.d_c, 1.0f, doi, sh.d_c, g.data(), D, 0.0f, dp.data(), m);
      for (int h = 0; h < H; ++h) {
        const float L = lse[size_t(i) * H + h];
        float delta = 0.0f;
        for (int c = 0; c < sh.d_c; ++c) delta += doi[h * sh.d_c + c] * oi[h * sh.d_c + c];
        float* pr = &p[size_t(h) * m];
        float* dr = &dp[size_t(h) * m];
        for (int j = 0; j < m; ++j) {
          pr[j] = std::exp(pr[j] - L);
          dr[j] = pr[j] * (dr[j] - delta) * sh.scale;
        }
      }
      // dq += ds g;  dg = ds^T q + p^T do (value part)
      Gemm(false, false, H, D, m, 1.0f, dp.data(), m, g.data(), D, 1.0f, dq + size_t(i) * H * D, D);
      Gemm(true, false, m, D, H, 1.0f, dp.data(), m, qi, D, 0.0f, dg.data(), D);
      Gemm(true, false, m, sh.d_c, H, 1.0f, p.data(), m, doi, sh.d_c, 1.0f, dg.data(), D);
      for (int j = 0; j < m; ++j) {
        float* dst = acc.data() + off + size_t(key[j]) * D;
        const float* src = &dg[size_t(j) * D];
        for (int c = 0; c < D; ++c) dst[c] += src[c];
      }
    }
  }
  const size_t total = size_t(kv_rows) * D;
  for (int t = 0; t < nt; ++t) {
    if (local[t].empty()) continue;
    const float* a = local[t].data();
    for (size_t k = 0; k < total; ++k) dkv[k] += a[k];
  }
}

}  // namespace

void AttentionForward(float* o, float* lse, const float* q, const KeyRows& keys,
                      const AttentionShape& sh, int rows) {
  if (keys.indices != nullptr) {
    SparseForward(o, lse, q, keys, sh, rows);
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
    SparseBackward(dq, dkv, d_o, q, kv, keys, o, lse, sh, rows, kv_rows);
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
    Gemm(false, false, m, D, n_max, 1.0f, dp.data(), n_max, kb, D, 1.0f, dq + size_t(r) * H * D, D);
    Gemm(true, false, n_max, D, m, 1.0f, dp.data(), n_max, qb, D, 1.0f, dkb, D);
    Gemm(true, false, n_max, sh.d_c, m, 1.0f, p.data(), n_max, dob, sh.d_c, 1.0f, dkb, D);
    r = end;
  }
}

}  // namespace dsarl::model::cpu

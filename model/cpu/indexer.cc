#include "model/cpu/indexer.h"

#include <omp.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "model/cpu/isa.h"
#include "model/cpu/ops.h"

namespace dsarl::model::cpu {
namespace {

inline float Dot(const float* a, const float* b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// IndexerScoresRow for keys [begin, end) with the key width a compile-time constant. Each dot
// product is 16 lanes of FMAs folded by a shuffle tree, and the ReLU is a select, not a branch
// (its sign is a coin flip per key, and the mispredictions cost more than the arithmetic).
// The portable version; ScoreKeysAvx512 below is the same computation in AVX-512 intrinsics. The
// two sum in different orders, so their scores agree to rounding, not bit for bit.
template <int D>
void ScoreKeysPortable(float* scores, const float* q_row, const float* w_row, const float* k,
                       int heads, int begin, int end, float c) {
  static_assert(D % 16 == 0);
  for (int s = begin; s < end; ++s) {
    const float* ks = k + size_t(s) * D;
    float acc = 0.0f;
    for (int j = 0; j < heads; ++j) {
      const float* qj = q_row + size_t(j) * D;
      float part[16] = {};
      for (int e = 0; e < D; e += 16) {
        for (int l = 0; l < 16; ++l) part[l] += qj[e + l] * ks[e + l];
      }
      for (int width = 8; width >= 1; width /= 2) {
        for (int l = 0; l < width; ++l) part[l] += part[l + width];
      }
      const float d = part[0];
      acc += w_row[j] * (d > 0.0f ? d : 0.0f);
    }
    scores[s] = acc * c;
  }
}

#if defined(__x86_64__)
// Compiled for AVX-512 whatever the build's -march; called only when ActiveCpuIsa() says so.
template <int D>
__attribute__((target("avx512f"))) void ScoreKeysAvx512(float* scores, const float* q_row,
                                                        const float* w_row, const float* k,
                                                        int heads, int begin, int end, float c) {
  static_assert(D % 16 == 0);
  for (int s = begin; s < end; ++s) {
    const float* ks = k + size_t(s) * D;
    float acc = 0.0f;
    for (int j = 0; j < heads; ++j) {
      const float* qj = q_row + size_t(j) * D;
      __m512 v = _mm512_mul_ps(_mm512_loadu_ps(qj), _mm512_loadu_ps(ks));
      for (int e = 16; e < D; e += 16) {
        v = _mm512_fmadd_ps(_mm512_loadu_ps(qj + e), _mm512_loadu_ps(ks + e), v);
      }
      const float d = _mm512_reduce_add_ps(v);
      acc += w_row[j] * (d > 0.0f ? d : 0.0f);
    }
    scores[s] = acc * c;
  }
}
#endif

template <int D>
void ScoreKeys(float* scores, const float* q_row, const float* w_row, const float* k, int heads,
               int begin, int end, float c) {
#if defined(__x86_64__)
  if (ActiveCpuIsa() == CpuIsa::kAvx512) {
    ScoreKeysAvx512<D>(scores, q_row, w_row, k, heads, begin, end, c);
    return;
  }
#endif
  ScoreKeysPortable<D>(scores, q_row, w_row, k, heads, begin, end, c);
}

// Decode scoring of one row against many keys: split across threads by key range, each range
// scored with a width-specialized kernel where there is one.
void ScoreRowFast(float* scores, const float* q_row, const float* w_row, const float* k, int n,
                  const IndexerShape& sh) {
  const float c = 1.0f / std::sqrt(float(sh.dim));
  auto range = [&](int begin, int end) {
    switch (sh.dim) {
      case 16:
        ScoreKeys<16>(scores, q_row, w_row, k, sh.heads, begin, end, c);
        break;
      case 32:
        ScoreKeys<32>(scores, q_row, w_row, k, sh.heads, begin, end, c);
        break;
      case 64:
        ScoreKeys<64>(scores, q_row, w_row, k, sh.heads, begin, end, c);
        break;
      case 128:
        ScoreKeys<128>(scores, q_row, w_row, k, sh.heads, begin, end, c);
        break;
      default:
        IndexerScoresRow(scores + begin, q_row, w_row, k + size_t(begin) * sh.dim, end - begin, sh);
    }
  };
  // Threads only pay for themselves on long contexts (a fork costs a few microseconds).
#pragma omp parallel if (size_t(n) * sh.heads * sh.dim >= (size_t(1) << 19))
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int chunk = (n + nt - 1) / nt;
    range(std::min(n, t * chunk), std::min(n, (t + 1) * chunk));
  }
}

// Clears out[0..topk) to -1, and when every key fits (n <= topk) selects them all: true then.
bool SelectAllIfFew(int* out, int n, int topk) {
  std::fill(out, out + topk, -1);
  if (n > topk) return false;
  std::iota(out, out + n, 0);
  return true;
}

}  // namespace

void IndexerScoresRow(float* scores, const float* q_row, const float* w_row, const float* k,
                      int n_keys, const IndexerShape& sh) {
  const float c = 1.0f / std::sqrt(float(sh.dim));
  for (int s = 0; s < n_keys; ++s) {
    const float* ks = k + size_t(s) * sh.dim;
    float acc = 0.0f;
    for (int j = 0; j < sh.heads; ++j) {
      const float d = Dot(q_row + size_t(j) * sh.dim, ks, sh.dim);
      if (d > 0.0f) acc += w_row[j] * d;
    }
    scores[s] = acc * c;
  }
}

void TopKRowReference(int* out, const float* scores, int n, int topk) {
  if (SelectAllIfFew(out, n, topk)) return;
  const int k = topk;
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  auto better = [&](int a, int b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a > b);
  };
  std::nth_element(idx.begin(), idx.begin() + k, idx.end(), better);
  std::sort(idx.begin(), idx.begin() + k);
  std::copy(idx.begin(), idx.begin() + k, out);
}

// Finds the k-th largest score by value (nth_element on a copy of the floats, with no indirection),
// then keeps every score above it and, of the scores equal to it, the most recent ones. Two linear
// passes besides the selection; the indices come out ascending without a sort.
void TopKRow(int* out, const float* scores, int n, int topk) {
  if (SelectAllIfFew(out, n, topk) || topk <= 0) return;
  const int k = topk;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  auto value = [&](int s) { return std::isnan(scores[s]) ? kNegInf : scores[s]; };
  thread_local std::vector<float> vals;
  vals.resize(n);
  for (int s = 0; s < n; ++s) vals[s] = value(s);
  std::nth_element(vals.begin(), vals.begin() + (k - 1), vals.end(), std::greater<float>());
  const float thr = vals[k - 1];
  int above = 0;
  for (int s = 0; s < n; ++s) above += value(s) > thr;
  // Of the scores equal to the threshold, keep the `k - above` most recent: those at or after
  // `cut`.
  int ties = k - above, cut = n;
  while (ties > 0) {
    --cut;
    if (value(cut) == thr) --ties;
  }
  int m = 0;
  for (int s = 0; s < n; ++s) {
    const float v = value(s);
    if (v > thr || (v == thr && s >= cut)) out[m++] = s;
  }
}

void IndexerSelectReference(int* indices, const float* q, const float* w, const KeyRows& keys,
                            const IndexerShape& sh, int rows, int topk) {
#pragma omp parallel if (rows >= 4)
  {
    std::vector<float> scores;
#pragma omp for schedule(dynamic, 4)
    for (int i = 0; i < rows; ++i) {
      const int n = keys.n_keys[i];
      int* out = indices + size_t(i) * topk;
      if (SelectAllIfFew(out, n, topk)) continue;  // everything is selected: skip scoring
      scores.resize(n);
      IndexerScoresRow(scores.data(), q + size_t(i) * sh.heads * sh.dim, w + size_t(i) * sh.heads,
                       keys.base[i], n, sh);
      TopKRowReference(out, scores.data(), n, topk);
    }
  }
}

void IndexerSelect(int* indices, const float* q, const float* w, const KeyRows& keys,
                   const IndexerShape& sh, int rows, int topk) {
  constexpr size_t kPanelFloats = size_t(2) << 20;
  const float c = 1.0f / std::sqrt(float(sh.dim));
  const int HI = sh.heads;
  std::vector<float> panel;
  for (int r = 0; r < rows;) {
    // Rows needing a choice (more visible keys than topk) that share a key base form a block.
    if (SelectAllIfFew(indices + size_t(r) * topk, keys.n_keys[r], topk)) {
      ++r;
      continue;
    }
    int end = r, n_max = 0;
    while (end < rows && keys.base[end] == keys.base[r] && keys.n_keys[end] > topk) {
      const int n = std::max(n_max, keys.n_keys[end]);
      if (end > r && size_t(end - r + 1) * HI * n > kPanelFloats) break;
      n_max = n;
      ++end;
    }
    const int b = end - r;
    if (b < 4) {
      // Decode: a few rows against many keys. An sgemm with M = b * H_I this small spends its time
      // packing the key matrix; scoring key by key reads each key once and wins.
      thread_local std::vector<float> scores;
      for (int i = r; i < end; ++i) {
        const int n = keys.n_keys[i];
        scores.resize(n);
        ScoreRowFast(scores.data(), q + size_t(i) * HI * sh.dim, w + size_t(i) * HI, keys.base[i],
                     n, sh);
        TopKRow(indices + size_t(i) * topk, scores.data(), n, topk);
      }
      r = end;
      continue;
    }
    panel.resize(size_t(b) * HI * n_max);
    // panel[(i, j), s] = q_I[r + i, j] . k_I[s]
    Gemm(false, true, b * HI, n_max, sh.dim, 1.0f, q + size_t(r) * HI * sh.dim, sh.dim,
         keys.base[r], sh.dim, 0.0f, panel.data(), n_max);
#pragma omp parallel if (b >= 2)
    {
      std::vector<float> scores;
#pragma omp for schedule(dynamic, 1)
      for (int i = 0; i < b; ++i) {
        const int n = keys.n_keys[r + i];
        scores.assign(n, 0.0f);
        const float* wi = w + size_t(r + i) * HI;
        for (int j = 0; j < HI; ++j) {
          const float* pj = &panel[(size_t(i) * HI + j) * n_max];
          const float wj = wi[j];
#pragma omp simd
          for (int s = 0; s < n; ++s) scores[s] += wj * std::max(pj[s], 0.0f);
        }
        for (int s = 0; s < n; ++s) scores[s] *= c;
        TopKRow(indices + size_t(r + i) * topk, scores.data(), n, topk);
      }
    }
    r = end;
  }
}

namespace {

// The support of row i: its visible keys 0..n-1 (dense, support == null) or its topk selected keys
// (sparse; entries outside [0, n), such as the -1 of an empty slot, are skipped by every step).
void RowSupport(std::vector<int>* keys_of, int i, int n, const int* support, int topk) {
  keys_of->clear();
  if (support == nullptr) {
    for (int s = 0; s < n; ++s) keys_of->push_back(s);
  } else {
    for (int j = 0; j < topk; ++j) keys_of->push_back(support[size_t(i) * topk + j]);
  }
}

// scores[j] = I[keys_of[j]] for the row's query qi [H_I, d_I] and weights wi [H_I] against its keys
// kb [n, d_I]. Returns the largest score (-inf when no entry is valid).
float SupportScores(float* scores, const std::vector<int>& keys_of, int n, const float* qi,
                    const float* wi, const float* kb, const IndexerShape& sh) {
  float mx = -std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < keys_of.size(); ++j) {
    const int s = keys_of[j];
    if (s < 0 || s >= n) continue;
    IndexerScoresRow(&scores[j], qi, wi, kb + size_t(s) * sh.dim, 1, sh);
    mx = std::max(mx, scores[j]);
  }
  return mx;
}

// logq = log softmax(scores) over the valid support entries (mx their largest score); returns
// KL(p || softmax) on the support.
double LogSoftmaxAndKl(float* logq, const float* scores, float mx, const float* p,
                       const std::vector<int>& keys_of, int n) {
  const int m = keys_of.size();
  double z = 0;
  for (int j = 0; j < m; ++j) {
    if (keys_of[j] >= 0 && keys_of[j] < n) z += std::exp(double(scores[j] - mx));
  }
  const double lz = mx + std::log(z);
  double kl = 0;
  for (int j = 0; j < m; ++j) {
    if (keys_of[j] < 0 || keys_of[j] >= n) continue;
    logq[j] = float(scores[j] - lz);
    if (p[j] > 0) kl += p[j] * (std::log(double(p[j])) - logq[j]);
  }
  return kl;
}

// Backward of one row's grad_scale * KL: dKL/dI_s = softmax(I)_s - p_s, then through
// I_s = c sum_h w_h relu(q_h . k_s). Adds into dq_row [H_I, d_I], dk [n, d_I] (the row's keys)
// and dw_row [H_I]; null ones are skipped.
void KlBackwardRow(float* dq_row, float* dk, float* dw_row, const float* logq, const float* p,
                   const std::vector<int>& keys_of, int n, const float* qi, const float* wi,
                   const float* kb, const IndexerShape& sh, float grad_scale) {
  const float c = 1.0f / std::sqrt(float(sh.dim));
  for (size_t j = 0; j < keys_of.size(); ++j) {
    const int s = keys_of[j];
    if (s < 0 || s >= n) continue;
    const float g = grad_scale * (std::exp(logq[j]) - p[j]);
    if (g == 0.0f) continue;
    const float* ks = kb + size_t(s) * sh.dim;
    for (int h = 0; h < sh.heads; ++h) {
      const float* qh = qi + size_t(h) * sh.dim;
      const float d = Dot(qh, ks, sh.dim);
      if (d <= 0.0f) continue;
      if (dw_row != nullptr) dw_row[h] += g * c * d;
      const float gd = g * c * wi[h];
      if (dq_row != nullptr) {
        float* dqh = dq_row + size_t(h) * sh.dim;
        for (int e = 0; e < sh.dim; ++e) dqh[e] += gd * ks[e];
      }
      if (dk != nullptr) {
        float* dks = dk + size_t(s) * sh.dim;
        for (int e = 0; e < sh.dim; ++e) dks[e] += gd * qh[e];
      }
    }
  }
}

}  // namespace

IndexerLossStats IndexerLoss(float* dq, float* dk, float* dw, const float* q, const float* k,
                             const float* w, const KeyRows& keys, const int* support, int topk,
                             const TargetFn& target, const IndexerShape& sh, int rows, int kv_rows,
                             float grad_scale) {
  const int nt = omp_get_max_threads();
  // Each thread adds into its own dk (rows share keys), summed after the loop.
  std::vector<std::vector<float>> local(nt);
  std::vector<IndexerLossStats> stats(nt);
#pragma omp parallel if (rows >= 4)
  {
    const int tid = omp_get_thread_num();
    if (dk != nullptr) local[tid].assign(size_t(kv_rows) * sh.dim, 0.0f);
    std::vector<float> all_scores, p, logq;
    std::vector<int> keys_of, top(topk > 0 ? topk : 1);
#pragma omp for schedule(dynamic, 4)
    for (int i = 0; i < rows; ++i) {
      const int n = keys.n_keys[i];
      const float* kb = keys.base[i];
      const float* qi = q + size_t(i) * sh.heads * sh.dim;
      const float* wi = w + size_t(i) * sh.heads;
      RowSupport(&keys_of, i, n, support, topk);
      const int m = keys_of.size();
      p.assign(m, 0.0f);
      target(i, p.data());
      all_scores.resize(m);
      const float mx = SupportScores(all_scores.data(), keys_of, n, qi, wi, kb, sh);
      logq.resize(m);
      stats[tid].kl_sum +=
          LogSoftmaxAndKl(logq.data(), all_scores.data(), mx, p.data(), keys_of, n);
      stats[tid].rows += 1;
      if (support == nullptr && topk > 0 && m > topk) {
        // Recall: the target's mass inside the indexer's own top-k of the dense support.
        TopKRow(top.data(), all_scores.data(), m, topk);
        double r = 0;
        for (int j = 0; j < topk; ++j) {
          if (top[j] >= 0) r += p[top[j]];
        }
        stats[tid].recall_sum += r;
        stats[tid].recall_rows += 1;
      }
      KlBackwardRow(dq == nullptr ? nullptr : dq + size_t(i) * sh.heads * sh.dim,
                    dk == nullptr ? nullptr : local[tid].data() + (kb - k),
                    dw == nullptr ? nullptr : dw + size_t(i) * sh.heads, logq.data(), p.data(),
                    keys_of, n, qi, wi, kb, sh, grad_scale);
    }
  }
  IndexerLossStats total;
  for (int t = 0; t < nt; ++t) {
    total.kl_sum += stats[t].kl_sum;
    total.recall_sum += stats[t].recall_sum;
    total.rows += stats[t].rows;
    total.recall_rows += stats[t].recall_rows;
    if (dk != nullptr && !local[t].empty()) {
      for (size_t e = 0; e < local[t].size(); ++e) dk[e] += local[t][e];
    }
  }
  return total;
}

}  // namespace dsarl::model::cpu

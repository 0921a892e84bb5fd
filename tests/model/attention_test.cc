// The blocked (sgemm) attention against the per-row reference loops, dense and sparse, on several
// shapes with packed sequences, forward and backward; and the indexer's top-k rules.
#include "model/cpu/attention.h"

#include <cmath>
#include <algorithm>
#include <limits>
#include <random>

#include "gtest/gtest.h"
#include "model/cpu/indexer.h"

namespace dsarl::model::cpu {
namespace {

double RelErr(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_FALSE(std::isnan(a[i]));
    num += (a[i] - b[i]) * double(a[i] - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

struct Shape {
  std::vector<int> lengths;
  int heads, d_c, d_r, topk;
};

class AttentionTest : public ::testing::TestWithParam<Shape> {};

TEST_P(AttentionTest, BlockedMatchesReference) {
  const Shape s = GetParam();
  AttentionShape sh{s.heads, s.d_c, s.d_r, 1.0f / std::sqrt(float(s.d_c + s.d_r))};
  const int D = sh.dim();
  int T = 0;
  for (int l : s.lengths) T += l;
  std::mt19937 rng(T * 7 + s.heads);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> q(size_t(T) * s.heads * D), kv(size_t(T) * D), d_o(size_t(T) * s.heads * s.d_c);
  for (float& x : q) x = n(rng);
  for (float& x : kv) x = n(rng);
  for (float& x : d_o) x = n(rng);
  KeyRows keys;
  std::vector<int> idx;
  int start = 0;
  for (int l : s.lengths) {
    for (int t = 0; t < l; ++t) {
      keys.base.push_back(kv.data() + size_t(start) * D);
      keys.n_keys.push_back(t + 1);
      if (s.topk > 0) {
        std::vector<float> scores(t + 1);
        for (float& x : scores) x = std::floor(n(rng) * 2);  // many ties
        std::vector<int> row(s.topk);
        TopKRow(row.data(), scores.data(), t + 1, s.topk);
        idx.insert(idx.end(), row.begin(), row.end());
      }
    }
    start += l;
  }
  if (s.topk > 0) {
    keys.indices = idx.data();
    keys.topk = s.topk;
  }
  std::vector<float> o1(size_t(T) * s.heads * s.d_c), o2(o1.size()), l1(size_t(T) * s.heads),
      l2(l1.size());
  AttentionForward(o1.data(), l1.data(), q.data(), keys, sh, T);
  AttentionForwardReference(o2.data(), l2.data(), q.data(), keys, sh, T);
  EXPECT_LT(RelErr(o1, o2), 1e-5);
  EXPECT_LT(RelErr(l1, l2), 1e-5);
  std::vector<float> dq1(q.size(), 0.0f), dq2(q.size(), 0.0f), dk1(kv.size(), 0.0f),
      dk2(kv.size(), 0.0f);
  AttentionBackward(dq1.data(), dk1.data(), d_o.data(), q.data(), kv.data(), keys, o1.data(),
                    l1.data(), sh, T, T);
  AttentionBackwardReference(dq2.data(), dk2.data(), d_o.data(), q.data(), kv.data(), keys,
                             o2.data(), l2.data(), sh, T, T);
  EXPECT_LT(RelErr(dq1, dq2), 1e-5);
  EXPECT_LT(RelErr(dk1, dk2), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest,
                         ::testing::Values(Shape{{1}, 1, 4, 2, 0}, Shape{{37, 5, 64}, 4, 64, 16, 0},
                                           Shape{{300}, 2, 12, 4, 0},
                                           Shape{{40, 9}, 3, 16, 8, 6},
                                           Shape{{130}, 4, 64, 16, 64},
                                           // Head counts with an in-place sparse kernel, value
                                           // widths off its column block, short key tails.
                                           Shape{{300, 50}, 16, 20, 6, 37},
                                           Shape{{90}, 8, 64, 16, 40}, Shape{{70}, 32, 8, 8, 13}));

TEST(TopK, TiesGoToTheMostRecentKeyAndSmallRowsSelectAll) {
  std::vector<float> s = {0, 0, 5, 0, 0, 1};
  std::vector<int> out(3);
  TopKRow(out.data(), s.data(), 6, 3);
  EXPECT_EQ(out, (std::vector<int>{2, 4, 5}));  // 5 (idx 2), 1 (idx 5), then the latest 0 (idx 4)
  std::vector<int> all(4);
  TopKRow(all.data(), s.data(), 2, 4);
  EXPECT_EQ(all, (std::vector<int>{0, 1, -1, -1}));
}

TEST(TopK, ThresholdSelectionMatchesTheSortingReference) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + rng() % 3000;
    const int topk = 1 + rng() % 300;
    // Few distinct values in half the trials, so ties straddle the threshold.
    const int levels = trial % 2 == 0 ? 5 : 1 << 20;
    std::vector<float> s(n);
    for (float& x : s) x = float(rng() % levels) - levels / 2;
    std::vector<int> a(topk), b(topk);
    TopKRow(a.data(), s.data(), n, topk);
    TopKRowReference(b.data(), s.data(), n, topk);
    ASSERT_EQ(a, b) << "n=" << n << " topk=" << topk;
  }
}

TEST(TopK, NotANumberRanksBelowEverything) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> s = {nan, 1, nan, -5, 2};
  std::vector<int> out(3);
  TopKRow(out.data(), s.data(), 5, 3);
  EXPECT_EQ(out, (std::vector<int>{1, 3, 4}));
}

TEST(IndexerSelect, DecodeRowsMatchReference) {
  // One or two rows against thousands of keys: the decode path (threaded, width-specialized).
  for (int dim : {16, 32, 64}) {
    const IndexerShape sh{4, dim};
    const int n = 20000, topk = 96;
    std::mt19937 rng(dim);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> q(size_t(2) * sh.heads * dim), k(size_t(n) * dim), w(2 * sh.heads);
    for (float& x : q) x = nd(rng);
    for (float& x : k) x = nd(rng);
    for (float& x : w) x = nd(rng);
    KeyRows keys;
    keys.base = {k.data(), k.data()};
    keys.n_keys = {n - 1, n};
    std::vector<int> a(2 * topk), b(a.size());
    IndexerSelect(a.data(), q.data(), w.data(), keys, sh, 2, topk);
    IndexerSelectReference(b.data(), q.data(), w.data(), keys, sh, 2, topk);
    EXPECT_EQ(a, b) << "dim " << dim;
  }
}

}  // namespace
}  // namespace dsarl::model::cpu

namespace dsarl::model::cpu {
namespace {

TEST(IndexerSelect, BlockedMatchesReference) {
  const IndexerShape sh{4, 16};
  const std::vector<int> lengths = {200, 3, 90};
  const int topk = 17;
  int T = 0;
  for (int l : lengths) T += l;
  std::mt19937 rng(5);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> q(size_t(T) * sh.heads * sh.dim), k(size_t(T) * sh.dim), w(size_t(T) * sh.heads);
  for (float& x : q) x = n(rng);
  for (float& x : k) x = n(rng);
  for (float& x : w) x = n(rng);
  KeyRows keys;
  int start = 0;
  for (int l : lengths) {
    for (int t = 0; t < l; ++t) {
      keys.base.push_back(k.data() + size_t(start) * sh.dim);
      keys.n_keys.push_back(t + 1);
    }
    start += l;
  }
  std::vector<int> a(size_t(T) * topk), b(a.size());
  IndexerSelect(a.data(), q.data(), w.data(), keys, sh, T, topk);
  IndexerSelectReference(b.data(), q.data(), w.data(), keys, sh, T, topk);
  EXPECT_EQ(a, b);
  // Row 0 of a sequence selects itself only; row 20 selects topk distinct keys.
  EXPECT_EQ(a[0], 0);
  EXPECT_EQ(a[1], -1);
  std::vector<int> row(a.begin() + 20 * topk, a.begin() + 21 * topk);
  EXPECT_TRUE(std::is_sorted(row.begin(), row.end()));
  EXPECT_EQ(std::adjacent_find(row.begin(), row.end()), row.end());
  EXPECT_GE(row.front(), 0);
}

}  // namespace
}  // namespace dsarl::model::cpu

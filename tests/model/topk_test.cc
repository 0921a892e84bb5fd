// The indexer's top-k rules, exactly: ties go to the most recent key, rows with at most k keys
// select them all, NaN ranks last, and the threshold selection equals the sorting reference. Both
// run on the same float scores, so exact equality is the contract here; selections computed from
// scores that two code paths sum differently are compared in op_test (indexer_select cases).
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/cpu/indexer.h"

namespace dsarl::model::cpu {
namespace {

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

}  // namespace
}  // namespace dsarl::model::cpu

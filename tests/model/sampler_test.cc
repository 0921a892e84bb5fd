#include "model/sampler.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Logits with a tie (ids 1 and 5) and, at T = float(0.7), the exact log-probabilities computed with
// numpy in float64: log_softmax(z / float64(np.float32(0.7))) restricted to each kept set.
const std::vector<float> kLogits = {1.0f, 2.0f, 0.5f, 3.0f, -1.0f, 2.0f};
constexpr float kTemp = 0.7f;

TEST(Rng, IsSplitMix64) {
  Rng rng(0);
  EXPECT_EQ(rng.NextU64(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(rng.NextU64(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(rng.NextU64(), 0x06C45D188009454Full);
  Rng a = Rng::ForStream(7, 0), b = Rng::ForStream(7, 1), c = Rng::ForStream(7, 0);
  const uint64_t first = a.NextU64();
  EXPECT_NE(first, b.NextU64());
  EXPECT_EQ(first, c.NextU64());
  for (int i = 0; i < 1000; ++i) {
    const double u = a.NextDouble();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

struct Case {
  SamplingParams params;
  std::map<int32_t, double> expected;  // kept id -> exact log-prob
  bool truncated;
};

TEST(Sampler, LogProbsAndKeptSetsMatchNumpy) {
  const std::vector<Case> cases = {
      {{kTemp, 0, 1.0f},
       {{0, -3.307038747438413},
        {1, -1.8784672945385574},
        {2, -4.021324473888341},
        {3, -0.4498958416387017},
        {4, -6.164181653238123},
        {5, -1.8784672945385574}},
       false},
      // Top-4 of a tie-free order; ids 1 and 5 tie and both fit.
      {{kTemp, 4, 1.0f},
       {{3, -0.42965982616540227},
        {1, -1.858231279065258},
        {5, -1.858231279065258},
        {0, -3.2868027319651136}},
       true},
      // Top-2: the 1/5 tie goes to the lower id.
      {{kTemp, 2, 1.0f}, {{3, -0.21482991308270108}, {1, -1.6434013659825568}}, true},
      // Top-4 then top-p 0.8 over the top-4 renormalized probs (0.651, 0.156, 0.156, 0.037):
      // 0.651 + 0.156 = 0.807 >= 0.8 keeps two.
      {{kTemp, 4, 0.8f}, {{3, -0.21482991308270108}, {1, -1.6434013659825568}}, true},
      // Top-p 0.9 over the full distribution (0.638, 0.153, 0.153, ...) keeps three.
      {{kTemp, 0, 0.9f},
       {{3, -0.3915703962922783}, {1, -1.820141849192134}, {5, -1.820141849192134}},
       true},
  };
  for (const Case& c : cases) {
    std::vector<int32_t> expected_kept;
    for (const auto& [id, lp] : c.expected) expected_kept.push_back(id);
    std::map<int32_t, int> seen;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      Rng rng(seed);
      ASSERT_OK_AND_ASSIGN(SampleResult r, Sample(kLogits, c.params, &rng));
      ASSERT_TRUE(c.expected.count(r.token)) << "top_k " << c.params.top_k << " token " << r.token;
      EXPECT_NEAR(r.logprob, c.expected.at(r.token), 1e-6);
      if (c.truncated) {
        EXPECT_EQ(r.kept, expected_kept);
      } else {
        EXPECT_THAT(r.kept, IsEmpty());
      }
      ++seen[r.token];
      // The learner's renormalized log-prob over the recorded set is the same number.
      ASSERT_OK_AND_ASSIGN(double lp, LogProbInKeptSet(kLogits, r.token, r.kept, kTemp));
      EXPECT_NEAR(lp, c.expected.at(r.token), 1e-12);
    }
    EXPECT_GE(seen.size(), std::min<size_t>(3, c.expected.size())) << "top_k " << c.params.top_k;
  }
}

TEST(Sampler, SameSeedSameSequence) {
  const SamplingParams params{1.0f, 0, 0.95f};
  std::vector<int32_t> a, b, other;
  Rng ra(42), rb(42), rc(43);
  for (int i = 0; i < 200; ++i) {
    a.push_back(Sample(kLogits, params, &ra)->token);
    b.push_back(Sample(kLogits, params, &rb)->token);
    other.push_back(Sample(kLogits, params, &rc)->token);
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, other);
  EXPECT_EQ(ra.state, rb.state);
}

TEST(Sampler, GreedyTakesLowestIdOnTies) {
  Rng rng(1);
  const uint64_t before = rng.state;
  ASSERT_OK_AND_ASSIGN(SampleResult r, Sample({0.0f, 5.0f, 1.0f, 5.0f}, {0.0f, 0, 1.0f}, &rng));
  EXPECT_EQ(r.token, 1);
  EXPECT_EQ(r.logprob, 0.0f);
  EXPECT_THAT(r.kept, ElementsAre(1));
  EXPECT_EQ(rng.state, before);  // greedy draws nothing
  ASSERT_OK_AND_ASSIGN(double lp, LogProbInKeptSet({0.0f, 5.0f, 1.0f, 5.0f}, 1, r.kept));
  EXPECT_EQ(lp, 0.0);
}

TEST(Sampler, MaskedTokensAreNeverSampledOrKept) {
  const std::vector<float> logits = {0.0f, -kInf, 0.0f, -kInf};
  std::map<int32_t, int> counts;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    Rng rng(seed);
    ASSERT_OK_AND_ASSIGN(SampleResult r, Sample(logits, {}, &rng));
    ++counts[r.token];
    EXPECT_THAT(r.kept, ElementsAre(0, 2));  // the support is smaller than the vocabulary
    EXPECT_NEAR(r.logprob, std::log(0.5), 1e-7);
  }
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GT(counts[0], 200);
  EXPECT_GT(counts[2], 200);
}

// Pearson's chi-square of `counts` against `probs` over `n` draws.
double ChiSquare(const std::vector<int>& counts, const std::vector<double>& probs, int n) {
  double chi2 = 0.0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const double expected = probs[i] * n;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  return chi2;
}

TEST(Sampler, FrequenciesMatchProbabilities) {
  // Full distribution at T = 0.7: 6 categories, 5 degrees of freedom. chi2 > 30 has p < 2e-5.
  const int n = 60000;
  std::vector<double> probs;
  for (double lp : {-3.307038747438413, -1.8784672945385574, -4.021324473888341,
                    -0.4498958416387017, -6.164181653238123, -1.8784672945385574}) {
    probs.push_back(std::exp(lp));
  }
  std::vector<int> counts(6, 0);
  Rng rng(2024);
  for (int i = 0; i < n; ++i) ++counts[Sample(kLogits, {kTemp, 0, 1.0f}, &rng)->token];
  EXPECT_LT(ChiSquare(counts, probs, n), 30.0);

  // Top-4 + top-p 0.9 keeps {3, 1, 5}; renormalized probs from the same table.
  std::vector<int> kept_counts(6, 0);
  for (int i = 0; i < n; ++i) ++kept_counts[Sample(kLogits, {kTemp, 4, 0.9f}, &rng)->token];
  EXPECT_EQ(kept_counts[0] + kept_counts[2] + kept_counts[4], 0);
  const std::vector<int> c3 = {kept_counts[3], kept_counts[1], kept_counts[5]};
  const std::vector<double> p3 = {std::exp(-0.3915703962922783), std::exp(-1.820141849192134),
                                  std::exp(-1.820141849192134)};
  EXPECT_LT(ChiSquare(c3, p3, n), 25.0);  // 2 degrees of freedom: p < 4e-6
}

TEST(Sampler, BatchSamplesRowsInOrder) {
  std::vector<float> logits = kLogits;
  logits.insert(logits.end(), {-kInf, -kInf, -kInf, 9.0f, -kInf, -kInf});
  Rng rng(5), same(5);
  ASSERT_OK_AND_ASSIGN(std::vector<SampleResult> rows, SampleBatch(logits, 2, {}, &rng));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].token, Sample(kLogits, {}, &same)->token);
  EXPECT_EQ(rows[1].token, 3);
  EXPECT_EQ(SampleBatch(logits, 5, {}, &rng).status().code(), absl::StatusCode::kInvalidArgument);
  logits[7] = std::nanf("");
  EXPECT_THAT(std::string(SampleBatch(logits, 2, {}, &rng).status().message()),
              ::testing::HasSubstr("row 1"));
}

TEST(Sampler, RejectsBadInputs) {
  Rng rng(0);
  const auto code = [&](std::vector<float> logits, SamplingParams p) {
    return Sample(logits, p, &rng).status().code();
  };
  const auto bad = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code({}, {}), bad);
  EXPECT_EQ(code({1.0f, std::nanf("")}, {}), bad);
  EXPECT_EQ(code({1.0f, kInf}, {}), bad);
  EXPECT_EQ(code({-kInf, -kInf}, {}), bad);
  EXPECT_EQ(code({1.0f}, {-1.0f, 0, 1.0f}), bad);
  EXPECT_EQ(code({1.0f}, {1.0f, -1, 1.0f}), bad);
  EXPECT_EQ(code({1.0f}, {1.0f, 0, 0.0f}), bad);
  EXPECT_EQ(code({1.0f}, {1.0f, 0, 1.5f}), bad);
}

TEST(LogProbInKeptSet, GradientMatchesFiniteDifferences) {
  std::vector<float> logits = {0.3f, -1.2f, 2.0f, 0.7f, 1.1f};
  const std::vector<int32_t> kept = {4, 0, 2};  // any order
  const float temp = 0.8f;
  std::vector<float> grad(5, 0.5f);  // adds into existing values
  ASSERT_OK_AND_ASSIGN(double lp, LogProbInKeptSet(logits, 2, kept, temp, absl::MakeSpan(grad)));
  EXPECT_LT(lp, 0.0);
  for (int i = 0; i < 5; ++i) {
    std::vector<float> hi = logits, lo = logits;
    hi[i] += 1e-2f;
    lo[i] -= 1e-2f;
    const double fd =
        (*LogProbInKeptSet(hi, 2, kept, temp) - *LogProbInKeptSet(lo, 2, kept, temp)) / 2e-2;
    EXPECT_NEAR(grad[i] - 0.5f, fd, 5e-4) << "logit " << i;
  }
  EXPECT_EQ(grad[1], 0.5f);  // outside the kept set
}

TEST(LogProbInKeptSet, RejectsInconsistentSets) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  const auto bad = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(LogProbInKeptSet(logits, 0, {1, 2}).status().code(), bad);  // token not kept
  EXPECT_EQ(LogProbInKeptSet(logits, 1, {1, 1}).status().code(), bad);  // duplicate
  EXPECT_EQ(LogProbInKeptSet(logits, 1, {1, 3}).status().code(), bad);  // out of range
  EXPECT_EQ(LogProbInKeptSet(logits, 3, {}).status().code(), bad);
  EXPECT_EQ(LogProbInKeptSet(logits, 1, {}, 0.0f).status().code(), bad);
  std::vector<float> grad(2);
  EXPECT_EQ(LogProbInKeptSet(logits, 1, {}, 1.0f, absl::MakeSpan(grad)).status().code(), bad);
  ASSERT_OK_AND_ASSIGN(double masked, LogProbInKeptSet({-kInf, 1.0f}, 0, {}));
  EXPECT_EQ(masked, -std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace dsarl::model

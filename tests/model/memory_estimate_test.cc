// ValidateDims bounds every size before anything is allocated, and the memory estimate grows with
// what it estimates and refuses what this machine cannot hold.
#include "model/memory_estimate.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/dims.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

using ::testing::HasSubstr;

TEST(ValidateDims, AcceptsTheDefaultsAndRefusesOutOfRangeSizes) {
  EXPECT_OK(ValidateDims(ModelDims(), "tiny"));
  ModelDims d;
  d.n_layers = 1000000;
  EXPECT_THAT(std::string(ValidateDims(d, "x/config.json").message()),
              HasSubstr("x/config.json: n_layers is 1000000; it must be in [1, 65536]"));
  d = ModelDims();
  d.index_topk = 0;
  EXPECT_FALSE(ValidateDims(d, "t").ok());
  d = ModelDims();
  d.rope = 15;
  EXPECT_FALSE(ValidateDims(d, "t").ok());
  d = ModelDims();
  d.eps = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(ValidateDims(d, "t").ok());
}

TEST(ValidateDims, RefusesCountsBeyondInt64ArithmeticAndCountsStayPositive) {
  // Every size at its cap: far beyond 2^53 parameters, where the int64 sums would overflow.
  ModelDims d;
  d.d_model = 1 << 20;
  d.n_layers = 1 << 16;
  d.n_routed = 1 << 16;
  d.n_group = 1;
  d.moe_ffn = 1 << 24;
  EXPECT_THAT(std::string(ValidateDims(d, "t").message()), HasSubstr("parameters"));
  // A 12.7T-parameter model is addressable; its counts are exact and positive.
  d = ModelDims();
  d.n_layers = 6000;
  d.d_model = 16384;
  d.ffn = 65536;
  ASSERT_OK(ValidateDims(d, "t"));
  EXPECT_GT(ParameterCount(d), int64_t{12'000'000'000'000});
  EXPECT_GT(ActiveParameterCount(d), 0);
}

TEST(MemoryEstimate, GrowsWithBatchAndSequencesAndNamesItsParts) {
  const ModelDims d;
  const MemoryEstimate small = TrainingMemory(d, 1024, true);
  const MemoryEstimate big = TrainingMemory(d, 4096, true);
  EXPECT_GT(big.total(), small.total());
  EXPECT_GT(small.total(), 5 * ParameterBytes(d));  // params, grads, 2 moments, image, reference
  EXPECT_THAT(small.Describe(), HasSubstr("AdamW moments"));
  EXPECT_GT(GenerationMemory(d, 64, 1024).total(), GenerationMemory(d, 8, 1024).total());
  // Caches are bounded by the context even when asked for more.
  EXPECT_DOUBLE_EQ(GenerationMemory(d, 8, 1 << 30).total(),
                   GenerationMemory(d, 8, d.max_pos).total());
}

TEST(MemoryEstimate, RefusesWhatTheLimitCannotHold) {
  EXPECT_OK(CheckFitsInMemory(1 << 20, "a little"));
  const absl::Status s = CheckFitsInMemory(1e18, "a model of 1e17 parameters");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("a model of 1e17 parameters needs about"));
  EXPECT_EQ(CheckFitsInMemory(2 << 20, "x", 1 << 20).code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace dsarl::model

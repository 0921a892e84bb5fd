// The verifier, length_penalty and group_length rewards.
#include "gtest/gtest.h"
#include "rewards/length.h"
#include "rewards/verifier.h"
#include "tests/rewards/test_util.h"

namespace dsarl::rewards {
namespace {

using testing::Answer;
using testing::Builtin;
using testing::CreateError;
using testing::Get;
using testing::ScoreOne;
using testing::Task;

TEST(VerifierTest, ReadsTheVerdict) {
  auto fn = Builtin("verifier");
  const Component c = Get(ScoreOne(*fn, Task(), Answer("42", 0.75)));
  EXPECT_TRUE(c.applicable);
  EXPECT_EQ(c.value, 0.75);
  EXPECT_EQ(c.details, "checked");
}

TEST(VerifierTest, Threshold) {
  auto fn = Builtin("verifier", {{"threshold", "0.5"}});
  EXPECT_EQ(Get(ScoreOne(*fn, Task(), Answer("42", 0.5))).value, 1);
  EXPECT_EQ(Get(ScoreOne(*fn, Task(), Answer("42", 0.49))).value, 0);
}

TEST(VerifierTest, MissingVerdictIsAnErrorUnlessOptional) {
  auto fn = Builtin("verifier");
  absl::StatusOr<std::vector<Components>> r = fn->ScoreGroup(Task(), {Answer("42")});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  auto optional = Builtin("verifier", {{"required", "false"}});
  EXPECT_FALSE(Get(ScoreOne(*optional, Task(), Answer("42"))).applicable);
}

TEST(VerifierTest, ScoreOutsideTheContractIsAnError) {
  auto fn = Builtin("verifier");
  for (double bad : {-0.1, 1.5, std::nan("")}) {
    absl::StatusOr<std::vector<Components>> r = fn->ScoreGroup(Task(), {Answer("42", bad)});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << bad;
  }
}

TEST(SoftOverlongPenaltyTest, Ramp) {
  // max 100, buffer 20: free up to 80, linear to -1 at 100, -1 beyond.
  EXPECT_EQ(SoftOverlongPenalty(0, 100, 20), 0);
  EXPECT_EQ(SoftOverlongPenalty(80, 100, 20), 0);
  EXPECT_DOUBLE_EQ(SoftOverlongPenalty(85, 100, 20), -0.25);
  EXPECT_DOUBLE_EQ(SoftOverlongPenalty(90, 100, 20), -0.5);
  EXPECT_DOUBLE_EQ(SoftOverlongPenalty(100, 100, 20), -1);
  EXPECT_EQ(SoftOverlongPenalty(101, 100, 20), -1);
  // buffer 0: a hard step past max; buffer = max: the ramp starts at 0.
  EXPECT_EQ(SoftOverlongPenalty(100, 100, 0), 0);
  EXPECT_EQ(SoftOverlongPenalty(101, 100, 0), -1);
  EXPECT_DOUBLE_EQ(SoftOverlongPenalty(50, 100, 100), -0.5);
}

TEST(LengthPenaltyTest, UsesGeneratedTokens) {
  auto fn = Builtin("length_penalty", {{"max_tokens", "100"}, {"buffer_tokens", "20"}});
  Sample s = Answer("42");
  s.num_generated_tokens = 95;
  EXPECT_DOUBLE_EQ(Get(ScoreOne(*fn, Task(), s)).value, -0.75);
  s.num_generated_tokens = 10;
  EXPECT_EQ(Get(ScoreOne(*fn, Task(), s)).value, 0);
}

TEST(LengthPenaltyTest, BadParams) {
  EXPECT_EQ(CreateError("length_penalty", {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("length_penalty", {{"max_tokens", "0"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("length_penalty", {{"max_tokens", "10"}, {"buffer_tokens", "11"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("length_penalty", {{"max_tokens", "10"}, {"buffer_tokens", "-1"}}).code(),
            absl::StatusCode::kInvalidArgument);
}

Sample WithLength(int n, double verdict) {
  Sample s = Answer("42", verdict);
  s.num_generated_tokens = n;
  return s;
}

TEST(GroupLengthTest, ShorterCorrectAnswersScoreHigher) {
  auto fn = Builtin("group_length");
  // Lengths 10, 20, 30 (lo 10, hi 30): lambda = 0.5, 0, -0.5.
  std::vector<Sample> group = {WithLength(10, 1), WithLength(20, 1), WithLength(30, 1),
                               WithLength(10, 0), WithLength(30, 0)};
  ASSERT_OK_AND_ASSIGN(std::vector<Components> r, fn->ScoreGroup(Task(), group));
  ASSERT_EQ(r.size(), 5u);
  EXPECT_DOUBLE_EQ(Get(r[0]).value, 0.5);
  EXPECT_DOUBLE_EQ(Get(r[1]).value, 0);
  EXPECT_DOUBLE_EQ(Get(r[2]).value, -0.5);
  EXPECT_DOUBLE_EQ(Get(r[3]).value, 0);     // wrong: min(0, 0.5)
  EXPECT_DOUBLE_EQ(Get(r[4]).value, -0.5);  // wrong: min(0, -0.5)
}

TEST(GroupLengthTest, EqualLengthsAndMissingVerdicts) {
  auto fn = Builtin("group_length");
  ASSERT_OK_AND_ASSIGN(std::vector<Components> same,
                       fn->ScoreGroup(Task(), {WithLength(5, 1), WithLength(5, 0)}));
  EXPECT_EQ(Get(same[0]).value, 0);
  EXPECT_EQ(Get(same[1]).value, 0);
  std::vector<Sample> group = {WithLength(5, 1), Answer("x")};
  EXPECT_EQ(fn->ScoreGroup(Task(), group).status().code(), absl::StatusCode::kFailedPrecondition);
  auto optional = Builtin("group_length", {{"required", "false"}});
  ASSERT_OK_AND_ASSIGN(std::vector<Components> r, optional->ScoreGroup(Task(), group));
  EXPECT_TRUE(Get(r[0]).applicable);
  EXPECT_FALSE(Get(r[1]).applicable);
}

}  // namespace
}  // namespace dsarl::rewards

// Key codecs: byte order must equal field order (that is what makes range scans work), and every
// key must decode back to its fields.
#include "store/keys.h"

#include <algorithm>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::store {
namespace {

TEST(KeysTest, U64AndI64RoundTripAtTheEdges) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256},
                     std::numeric_limits<uint64_t>::max()}) {
    std::string k;
    AppendU64(&k, v);
    ASSERT_EQ(k.size(), 8u);
    absl::string_view in = k;
    uint64_t out = 0;
    ASSERT_TRUE(ConsumeU64(&in, &out));
    EXPECT_EQ(out, v);
    EXPECT_TRUE(in.empty());
  }
  for (int64_t v : {std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0}, int64_t{1},
                    std::numeric_limits<int64_t>::max()}) {
    std::string k;
    AppendI64(&k, v);
    absl::string_view in = k;
    int64_t out = 0;
    ASSERT_TRUE(ConsumeI64(&in, &out));
    EXPECT_EQ(out, v);
  }
  absl::string_view short_input("abc");
  uint32_t x = 0;
  EXPECT_FALSE(ConsumeU32(&short_input, &x));
}

TEST(KeysTest, GroupKeyOrderIsRunThenSignedStepThenPromptThenAttempt) {
  std::mt19937_64 rng(7);
  std::vector<GroupKeyParts> parts;
  const int64_t steps[] = {std::numeric_limits<int64_t>::min(), -5, -1, 0, 1, 2, 255, 256,
                           std::numeric_limits<int64_t>::max()};
  for (int i = 0; i < 2000; ++i) {
    parts.push_back({rng() % 3, steps[rng() % 9], rng() % 4 == 0 ? rng() : rng() % 300,
                     static_cast<uint32_t>(rng() % 3)});
  }
  auto tuple = [](const GroupKeyParts& p) {
    return std::make_tuple(p.run_id, p.step, p.prompt_id, p.attempt);
  };
  std::vector<GroupKeyParts> by_fields = parts, by_bytes = parts;
  std::sort(by_fields.begin(), by_fields.end(),
            [&](const auto& a, const auto& b) { return tuple(a) < tuple(b); });
  std::sort(by_bytes.begin(), by_bytes.end(),
            [](const auto& a, const auto& b) { return GroupKey(a) < GroupKey(b); });
  for (size_t i = 0; i < parts.size(); ++i) {
    ASSERT_EQ(tuple(by_fields[i]), tuple(by_bytes[i])) << "at " << i;
    ASSERT_OK_AND_ASSIGN(GroupKeyParts back, DecodeGroupKey(GroupKey(by_bytes[i])));
    EXPECT_EQ(tuple(back), tuple(by_bytes[i]));
  }
}

TEST(KeysTest, StepRangeOfARunIsExactlyItsKeys) {
  // Keys of run 5 at steps 100..200 lie between the scan bounds; neighbours do not.
  const std::string begin = GroupRunStepPrefix(5, 100);
  const std::string end = PrefixEnd(GroupRunStepPrefix(5, 200));
  auto inside = [&](uint64_t run, int64_t step) {
    std::string k = GroupKey({run, step, 42, 0});
    return k >= begin && k < end;
  };
  EXPECT_TRUE(inside(5, 100));
  EXPECT_TRUE(inside(5, 150));
  EXPECT_TRUE(inside(5, 200));
  EXPECT_FALSE(inside(5, 99));
  EXPECT_FALSE(inside(5, 201));
  EXPECT_FALSE(inside(5, -1));
  EXPECT_FALSE(inside(4, 150));
  EXPECT_FALSE(inside(6, 150));
  // The largest step still has an upper bound (PrefixEnd drops trailing 0xFF bytes).
  const std::string all_end = PrefixEnd(GroupRunStepPrefix(5, std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(all_end, PrefixEnd(GroupRunPrefix(5)));
  EXPECT_LT(GroupKey({5, std::numeric_limits<int64_t>::max(), ~uint64_t{0}, ~0u}), all_end);
  EXPECT_GE(GroupKey({6, std::numeric_limits<int64_t>::min(), 0, 0}), all_end);
}

TEST(KeysTest, PrefixEnd) {
  EXPECT_EQ(PrefixEnd("a"), "b");
  EXPECT_EQ(PrefixEnd(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixEnd(std::string("\xff", 1)), "");
  EXPECT_EQ(PrefixEnd(""), "");
}

TEST(KeysTest, CategoryIndexSortsByCategoryThenId) {
  // "abc" must sort before "abcd" whatever the ids: the 0x00 terminator is the smallest byte.
  EXPECT_LT(CategoryIndexKey("abc", ~uint64_t{0}), CategoryIndexKey("abcd", 0));
  EXPECT_LT(CategoryIndexKey("abc", 1), CategoryIndexKey("abc", 2));
  const std::string prefix = CategoryIndexPrefix("abc");
  EXPECT_EQ(CategoryIndexKey("abc", 9).substr(0, prefix.size()), prefix);
  EXPECT_NE(CategoryIndexKey("abcd", 9).substr(0, prefix.size()), prefix);
  ASSERT_OK_AND_ASSIGN(uint64_t id, DecodeTrailingId(CategoryIndexKey("abc", 77)));
  EXPECT_EQ(id, 77u);
  EXPECT_OK(ValidateCategory("trip_planning"));
  EXPECT_EQ(ValidateCategory(std::string("a\0b", 3)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeysTest, PromptsOfAnEnvironmentAreOneRange) {
  const std::string prefix = PromptByEnvPrefix(3);
  EXPECT_EQ(PromptByEnvKey(3, 0).substr(0, prefix.size()), prefix);
  EXPECT_LT(PromptByEnvKey(3, ~uint64_t{0}), PrefixEnd(prefix));
  EXPECT_GE(PromptByEnvKey(4, 0), PrefixEnd(prefix));
  EXPECT_LT(PromptByEnvKey(2, ~uint64_t{0}), prefix);
}

TEST(KeysTest, TrajectoryKeysRoundTripAndGroupTogether) {
  ASSERT_OK_AND_ASSIGN(TrajectoryKeyParts p, DecodeTrajectoryKey(TrajectoryKey(9, 2, 7)));
  EXPECT_EQ(p.prompt_id, 9u);
  EXPECT_EQ(p.attempt, 2u);
  EXPECT_EQ(p.sample_index, 7u);
  const std::string prefix = TrajectoryGroupPrefix(9, 2);
  EXPECT_LT(TrajectoryKey(9, 2, 0), TrajectoryKey(9, 2, 1));
  EXPECT_GE(TrajectoryKey(9, 3, 0), PrefixEnd(prefix));
  EXPECT_EQ(DecodeTrajectoryKey("T123").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeGroupKey(TrajectoryKey(1, 2, 3)).status().code(), absl::StatusCode::kDataLoss);
}

TEST(KeysTest, DescribeKeyIsReadable) {
  EXPECT_EQ(DescribeKey("groups", GroupKey({1, -1, 42, 0})),
            "group run=1 step=-1 prompt=42 attempt=0");
  EXPECT_EQ(DescribeKey("groups", GroupIdKey(42, 3)), "group-index prompt=42 attempt=3");
  EXPECT_EQ(DescribeKey("prompts", PromptKey(5)), "prompt 5");
  EXPECT_EQ(DescribeKey("prompts", CategoryIndexKey("sorting", 5)),
            "prompt-index category=sorting id=5");
  EXPECT_EQ(DescribeKey("runs", MetricsKey(2, 10)), "metrics run=2 step=10");
  EXPECT_EQ(DescribeKey("trajectories", TrajectoryKey(4, 0, 7)),
            "trajectory prompt=4 attempt=0 sample=7");
  EXPECT_EQ(DescribeKey("envs", "Zz"), "? 5a7a");
}

}  // namespace
}  // namespace dsarl::store

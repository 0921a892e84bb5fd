// Answer matching: lenient in form, strict in substance.
#include "envs/answer.h"

#include "gtest/gtest.h"

namespace dsarl::envs {
namespace {

double Score(AnswerMatch m, const char* expected, const char* given) {
  return MatchAnswer(m, expected, given).score;
}

TEST(AnswerTest, Integers) {
  EXPECT_EQ(Score(AnswerMatch::kInteger, "1234", " 1,234. "), 1);
  EXPECT_EQ(Score(AnswerMatch::kInteger, "-5", "-05"), 1);
  EXPECT_EQ(Score(AnswerMatch::kInteger, "0", "-0"), 1);
  EXPECT_EQ(Score(AnswerMatch::kInteger, "123456789012345678901234567890",
                  "123456789012345678901234567890"),
            1);
  EXPECT_EQ(Score(AnswerMatch::kInteger, "42", "41"), 0);
  EXPECT_EQ(Score(AnswerMatch::kInteger, "42", "about 42"), 0);
  EXPECT_EQ(Score(AnswerMatch::kInteger, "42", "42.5"), 0);
  EXPECT_EQ(Score(AnswerMatch::kInteger, "42", ""), 0);
  EXPECT_EQ(Score(AnswerMatch::kInteger, "1", "1,"), 0);
}

TEST(AnswerTest, NumbersToTheExpectedPrecision) {
  EXPECT_EQ(Score(AnswerMatch::kNumber, "2.50", "2.5"), 1);
  EXPECT_EQ(Score(AnswerMatch::kNumber, "2.50", "2.504"), 1);
  EXPECT_EQ(Score(AnswerMatch::kNumber, "2.50", "2.51"), 0);
  EXPECT_EQ(Score(AnswerMatch::kNumber, "-17.8", "-17.8"), 1);
  EXPECT_EQ(Score(AnswerMatch::kNumber, "1.5", "nan"), 0);
}

TEST(AnswerTest, TextListsAndExact) {
  EXPECT_EQ(Score(AnswerMatch::kText, "Ada Bauer", "  ada   BAUER."), 1);
  EXPECT_EQ(Score(AnswerMatch::kText, "Ada Bauer", "\"Ada Bauer\""), 1);
  EXPECT_EQ(Score(AnswerMatch::kText, "Ada Bauer", "Ada"), 0);
  EXPECT_EQ(Score(AnswerMatch::kList, "1 2 3", "[1, 2, 3]"), 1);
  EXPECT_EQ(Score(AnswerMatch::kList, "1 2 3", "1,2,3"), 1);
  EXPECT_EQ(Score(AnswerMatch::kList, "1 2 3", "3 2 1"), 0);
  EXPECT_EQ(Score(AnswerMatch::kExact, "AbC", "AbC"), 1);
  EXPECT_EQ(Score(AnswerMatch::kExact, "AbC", "abc"), 0);
  Verdict v = MatchAnswer(AnswerMatch::kInteger, "7", "8");
  EXPECT_EQ(v.details, "expected '7', got '8'");
}

TEST(AnswerTest, NamesRoundTrip) {
  for (AnswerMatch m : {AnswerMatch::kInteger, AnswerMatch::kNumber, AnswerMatch::kText,
                        AnswerMatch::kList, AnswerMatch::kExact}) {
    auto parsed = ParseAnswerMatch(AnswerMatchName(m));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_FALSE(ParseAnswerMatch("fuzzy").ok());
}

}  // namespace
}  // namespace dsarl::envs

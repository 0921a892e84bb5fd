// Answer extraction, normalization, number reading, and the three match rewards.
#include "rewards/match.h"

#include "gtest/gtest.h"
#include "rewards/answer_text.h"
#include "tests/rewards/test_util.h"

namespace dsarl::rewards {
namespace {

using testing::Answer;
using testing::Builtin;
using testing::CreateError;
using testing::Get;
using testing::ScoreOne;
using testing::Task;

TEST(ExtractAnswerTest, Modes) {
  EXPECT_EQ(ExtractAnswer("so \\boxed{42}.", Extract::kBoxed), "42");
  EXPECT_EQ(ExtractAnswer("\\boxed{1} then \\boxed{\\frac{1}{2}}", Extract::kBoxed),
            "\\frac{1}{2}");
  EXPECT_EQ(ExtractAnswer("\\boxed{unclosed", Extract::kBoxed), std::nullopt);
  EXPECT_EQ(ExtractAnswer("no box", Extract::kBoxed), std::nullopt);
  EXPECT_EQ(ExtractAnswer("<answer>a</answer> <answer> b </answer>", Extract::kAnswerTag), " b ");
  EXPECT_EQ(ExtractAnswer("<answer>open", Extract::kAnswerTag), std::nullopt);
  EXPECT_EQ(ExtractAnswer("line one\nAnswer: 5\n  \n", Extract::kLastLine), "Answer: 5");
  EXPECT_EQ(ExtractAnswer(" \n ", Extract::kLastLine), std::nullopt);
  EXPECT_EQ(ExtractAnswer("anything", Extract::kFull), "anything");
  EXPECT_FALSE(ParseExtract("first_line").ok());
}

TEST(ParseNumberTest, LenientInFormStrictInSubstance) {
  EXPECT_EQ(ParseNumber("42"), 42);
  EXPECT_EQ(ParseNumber(" -3.5 "), -3.5);
  EXPECT_EQ(ParseNumber("+7."), 7);
  EXPECT_EQ(ParseNumber("1,234,567"), 1234567);
  EXPECT_EQ(ParseNumber("$1,234.50"), 1234.5);
  EXPECT_EQ(ParseNumber("-$5"), -5);
  EXPECT_EQ(ParseNumber("50%"), 50);
  EXPECT_EQ(ParseNumber("1e-3"), 0.001);
  EXPECT_EQ(ParseNumber(".5"), 0.5);
  EXPECT_EQ(ParseNumber("3/4"), 0.75);
  EXPECT_EQ(ParseNumber("-1/2"), -0.5);
  EXPECT_EQ(ParseNumber("\\frac{3}{4}"), 0.75);
  EXPECT_EQ(ParseNumber("-\\dfrac{1}{8}"), -0.125);
  for (const char* bad : {"", "abc", "about 42", "1,23", "12,3456", "1.2.3", "1/0", "1/-2", "--1",
                          "inf", "nan", "1e", "\\frac{1}{0}", "\\frac{1}", "0x10", "1e999"}) {
    EXPECT_EQ(ParseNumber(bad), std::nullopt) << bad;
  }
}

TEST(FindLastNumberTest, FindsTheLastNumberAsWritten) {
  EXPECT_EQ(FindLastNumber("I think it is 41, no, 42."), "42");
  EXPECT_EQ(FindLastNumber("total: -1,234.5 dollars"), "-1,234.5");
  EXPECT_EQ(FindLastNumber("x-4"), "4");
  EXPECT_EQ(FindLastNumber("ratio 3/4!"), "3/4");
  EXPECT_EQ(FindLastNumber("the list 1,2,3"), "3");
  EXPECT_EQ(FindLastNumber("no digits"), std::nullopt);
}

TEST(NormalizeAnswerTest, Options) {
  NormalizeOptions o;
  EXPECT_EQ(NormalizeAnswer("  \"The  Eiffel\tTower!\" ", o), "the eiffel tower");
  EXPECT_EQ(NormalizeAnswer("3.5, then 1,000", o), "3.5 then 1,000");
  o.remove_articles = true;
  EXPECT_EQ(NormalizeAnswer("The Eiffel Tower", o), "eiffel tower");
  o.case_sensitive = true;
  o.strip_punctuation = false;
  EXPECT_EQ(NormalizeAnswer("An Apple, please", o), "Apple, please");
  EXPECT_EQ(CleanAnswer(" `x`. "), "x");
  EXPECT_EQ(CleanAnswer("'a\""), "'a\"");
  EXPECT_EQ(CleanAnswer("\"Paris.\""), "Paris");
  EXPECT_EQ(CleanAnswer(".."), ".");
}

TEST(ExactMatchTest, ComparesBytesAfterTrimming) {
  auto fn = Builtin("exact_match");
  const auto task = Task({{"answer", "42"}});
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer(" 42\n"))).value, 1);
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("42."))).value, 0);
  auto strict = Builtin("exact_match", {{"trim", "false"}});
  EXPECT_EQ(Get(ScoreOne(*strict, task, Answer(" 42"))).value, 0);
}

TEST(ExactMatchTest, NotApplicableWithoutReference) {
  auto fn = Builtin("exact_match");
  const Component c = Get(ScoreOne(*fn, Task(), Answer("42")));
  EXPECT_FALSE(c.applicable);
  EXPECT_NE(c.details.find("no reference 'answer'"), std::string::npos);
  auto other_key = Builtin("exact_match", {{"reference_key", "city"}});
  EXPECT_EQ(Get(ScoreOne(*other_key, Task({{"city", "Paris"}}), Answer("Paris"))).value, 1);
}

TEST(ExactMatchTest, AlternativesAndExtraction) {
  auto fn = Builtin("exact_match", {{"separator", "|"}, {"extract", "boxed"}});
  const auto task = Task({{"answer", "NYC|New York"}});
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("It is \\boxed{New York}"))).value, 1);
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("\\boxed{Boston}"))).value, 0);
  const Component none = Get(ScoreOne(*fn, task, Answer("New York")));
  EXPECT_TRUE(none.applicable);  // the model gave no boxed answer: its mistake, scored 0
  EXPECT_EQ(none.value, 0);
  EXPECT_NE(none.details.find("no answer found"), std::string::npos);
}

TEST(NormalizedMatchTest, IgnoresCasePunctuationAndSpacing) {
  auto fn = Builtin("normalized_match");
  const auto task = Task({{"answer", "The Eiffel Tower"}});
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("the eiffel   tower!"))).value, 1);
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("Eiffel Tower"))).value, 0);
  auto articles = Builtin("normalized_match", {{"remove_articles", "true"}});
  EXPECT_EQ(Get(ScoreOne(*articles, task, Answer("Eiffel Tower"))).value, 1);
  auto cased = Builtin("normalized_match", {{"case_sensitive", "true"}});
  EXPECT_EQ(Get(ScoreOne(*cased, task, Answer("the eiffel tower"))).value, 0);
}

TEST(NumericMatchTest, ToleranceAndForms) {
  auto fn = Builtin("numeric_match");
  const auto task = Task({{"answer", "1234.5"}});
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("$1,234.50"))).value, 1);
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("1234.5000001"))).value, 1);  // within abs_tol 1e-6
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("1234.51"))).value, 0);
  auto loose = Builtin("numeric_match", {{"rel_tol", "0.01"}});
  EXPECT_EQ(Get(ScoreOne(*loose, task, Answer("1240"))).value, 1);
  EXPECT_EQ(Get(ScoreOne(*loose, task, Answer("1250"))).value, 0);
  auto fractions = Builtin("numeric_match");
  EXPECT_EQ(Get(ScoreOne(*fractions, Task({{"answer", "0.75"}}), Answer("3/4"))).value, 1);
}

TEST(NumericMatchTest, NotANumber) {
  auto fn = Builtin("numeric_match");
  const Component words = Get(ScoreOne(*fn, Task({{"answer", "42"}}), Answer("forty-two")));
  EXPECT_TRUE(words.applicable);
  EXPECT_EQ(words.value, 0);
  const Component bad_ref = Get(ScoreOne(*fn, Task({{"answer", "Paris"}}), Answer("42")));
  EXPECT_FALSE(bad_ref.applicable);
  EXPECT_NE(bad_ref.details.find("not a number"), std::string::npos);
  // The reference decides applicability before the answer is looked at.
  auto last = Builtin("numeric_match", {{"extract", "last_number"}});
  EXPECT_FALSE(Get(ScoreOne(*last, Task({{"answer", "Paris"}}), Answer("Lyon"))).applicable);
}

TEST(NumericMatchTest, LastNumberExtraction) {
  auto fn = Builtin("numeric_match", {{"extract", "last_number"}});
  const auto task = Task({{"answer", "42"}});
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("6 * 7 = 42."))).value, 1);
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("42 is wrong, it is 43"))).value, 0);
  EXPECT_EQ(Get(ScoreOne(*fn, task, Answer("no idea"))).value, 0);
}

TEST(MatchParamsTest, BadParamsAreErrors) {
  EXPECT_EQ(CreateError("numeric_match", {{"abs_tol", "-1"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("numeric_match", {{"abs_tol", "small"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("exact_match", {{"extract", "last_number"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("exact_match", {{"reference_key", ""}}).code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status typo = CreateError("exact_match", {{"referenc_key", "answer"}});
  EXPECT_EQ(typo.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(typo.message().find("referenc_key"), absl::string_view::npos) << typo;
}

}  // namespace
}  // namespace dsarl::rewards

// Script classification, the language reward and the tool-call count.
#include "gtest/gtest.h"
#include "rewards/language.h"
#include "rewards/tool_calls.h"
#include "tests/rewards/test_util.h"

namespace dsarl::rewards {
namespace {

using testing::Answer;
using testing::Assistant;
using testing::Builtin;
using testing::CreateError;
using testing::Get;
using testing::ScoreOne;
using testing::Task;

TEST(ScriptTest, ClassifiesLettersByBlock) {
  EXPECT_EQ(ScriptOf('a'), Script::kLatin);
  EXPECT_EQ(ScriptOf(U'é'), Script::kLatin);
  EXPECT_EQ(ScriptOf(U'ж'), Script::kCyrillic);
  EXPECT_EQ(ScriptOf(U'λ'), Script::kGreek);
  EXPECT_EQ(ScriptOf(U'中'), Script::kCjk);
  EXPECT_EQ(ScriptOf(U'か'), Script::kCjk);
  EXPECT_EQ(ScriptOf(U'한'), Script::kCjk);
  EXPECT_EQ(ScriptOf(U'ب'), Script::kArabic);
  EXPECT_EQ(ScriptOf(U'क'), Script::kDevanagari);
  EXPECT_EQ(ScriptOf(U'ש'), Script::kHebrew);
  EXPECT_EQ(ScriptOf(U'ก'), Script::kThai);
  EXPECT_EQ(ScriptOf(U'ა'), Script::kOther);  // Georgian: a letter of another script
  for (char32_t not_letter : {U'7', U' ', U'!', U'×', U'—', U'，', U'😀', U'\u0301'}) {
    EXPECT_EQ(ScriptOf(not_letter), std::nullopt) << static_cast<uint32_t>(not_letter);
  }
}

TEST(ScriptTest, CountsAndInvalidBytes) {
  const ScriptCounts c = CountScripts("héllo 世界! \xff\xc3");
  EXPECT_EQ(c.letters.at(Script::kLatin), 5);
  EXPECT_EQ(c.letters.at(Script::kCjk), 2);
  EXPECT_EQ(c.invalid_bytes, 2);  // a bad lead byte and a truncated sequence
  EXPECT_EQ(CountScripts("\xed\xa0\x80").invalid_bytes, 3);  // an encoded surrogate
  EXPECT_EQ(CountScripts("\xc0\xaf").invalid_bytes, 2);      // overlong
  EXPECT_EQ(DominantScript(c), Script::kLatin);
  EXPECT_EQ(DominantScript(CountScripts("123 !")), std::nullopt);
}

Sample Said(std::string reasoning, std::string content) {
  Sample s = Answer(content);
  s.messages.back() = Assistant(std::move(reasoning), std::move(content));
  return s;
}

TEST(LanguageTest, AutoFollowsTheUserMessage) {
  auto fn = Builtin("language");
  const auto english = Task({}, "What is the capital of France?");
  EXPECT_EQ(Get(ScoreOne(*fn, english, Said("Paris is it", "Paris"))).value, 1);
  // 4 of 8 letters are Latin: the reasoning drifted into Chinese.
  EXPECT_DOUBLE_EQ(Get(ScoreOne(*fn, english, Said("巴黎首都", "Pari"))).value, 0.5);
  const auto chinese = Task({}, "法国的首都是哪里？");
  EXPECT_EQ(Get(ScoreOne(*fn, chinese, Said("首都是巴黎", "巴黎"))).value, 1);
  EXPECT_FALSE(Get(ScoreOne(*fn, Task({}, "2+2=?"), Said("4", "4"))).applicable);
}

TEST(LanguageTest, FieldsScriptsAndThreshold) {
  const auto task = Task({}, "What is the capital of France?");
  const Sample s = Said("巴黎", "Paris");
  EXPECT_EQ(Get(ScoreOne(*Builtin("language", {{"fields", "content"}}), task, s)).value, 1);
  EXPECT_EQ(Get(ScoreOne(*Builtin("language", {{"fields", "reasoning"}}), task, s)).value, 0);
  EXPECT_EQ(Get(ScoreOne(*Builtin("language", {{"script", "latin, cjk"}}), task, s)).value, 1);
  auto thresholded = Builtin("language", {{"threshold", "0.9"}});
  EXPECT_EQ(Get(ScoreOne(*thresholded, task, s)).value, 0);  // 5 of 7 letters
  EXPECT_FALSE(Get(ScoreOne(*Builtin("language"), task, Said("", "42"))).applicable);
  // Invalid UTF-8 counts against consistency.
  EXPECT_DOUBLE_EQ(Get(ScoreOne(*Builtin("language"), task, Said("", "ab\xff\xfe"))).value, 0.5);
}

TEST(LanguageTest, BadParams) {
  EXPECT_EQ(CreateError("language", {{"script", "klingon"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("language", {{"script", ","}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("language", {{"fields", "tools"}}).code(),
            absl::StatusCode::kInvalidArgument);
}

Sample WithCalls(int calls, int errors) {
  Sample s = Answer("done");
  for (int i = 0; i < calls; ++i) {
    s.messages.insert(s.messages.end() - 1,
                      Assistant("", "", {ToolCall{.name = "lookup", .arguments = {{"k", "v"}}}}));
    s.messages.insert(s.messages.end() - 1, testing::ToolResult("out", i < errors));
  }
  return s;
}

proto::Prompt ToolTask() {
  proto::Prompt p = Task();
  p.add_tools()->set_name("lookup");
  return p;
}

TEST(ToolCallsTest, Modes) {
  EXPECT_EQ(Get(ScoreOne(*Builtin("tool_calls"), ToolTask(), WithCalls(3, 1))).value, 3);
  EXPECT_EQ(Get(ScoreOne(*Builtin("tool_calls", {{"what", "errors"}}), ToolTask(), WithCalls(3, 1)))
                .value,
            1);
  EXPECT_EQ(
      Get(ScoreOne(*Builtin("tool_calls", {{"what", "valid"}}), ToolTask(), WithCalls(3, 1))).value,
      2);
  auto range = Builtin("tool_calls", {{"mode", "in_range"}, {"min", "1"}, {"max", "2"}});
  EXPECT_EQ(Get(ScoreOne(*range, ToolTask(), WithCalls(0, 0))).value, 0);
  EXPECT_EQ(Get(ScoreOne(*range, ToolTask(), WithCalls(2, 0))).value, 1);
  EXPECT_EQ(Get(ScoreOne(*range, ToolTask(), WithCalls(3, 0))).value, 0);
  auto budget = Builtin("tool_calls", {{"mode", "over_budget"}, {"max", "2"}});
  EXPECT_EQ(Get(ScoreOne(*budget, ToolTask(), WithCalls(2, 0))).value, 0);
  EXPECT_EQ(Get(ScoreOne(*budget, ToolTask(), WithCalls(5, 0))).value, -3);
}

TEST(ToolCallsTest, TasksWithoutTools) {
  EXPECT_FALSE(Get(ScoreOne(*Builtin("tool_calls"), Task(), WithCalls(1, 0))).applicable);
  auto anyway = Builtin("tool_calls", {{"applies_without_tools", "true"}});
  EXPECT_EQ(Get(ScoreOne(*anyway, Task(), WithCalls(1, 0))).value, 1);
}

TEST(ToolCallsTest, BadParams) {
  EXPECT_EQ(CreateError("tool_calls", {{"mode", "over_budget"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("tool_calls", {{"mode", "in_range"}, {"min", "3"}, {"max", "2"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("tool_calls", {{"what", "tokens"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("tool_calls", {{"min", "-1"}}).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dsarl::rewards

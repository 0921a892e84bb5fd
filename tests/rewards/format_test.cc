// The think-block checker and the format reward.
#include "rewards/format.h"

#include "gtest/gtest.h"
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

TEST(CheckThinkBlockTest, StartsInReasoning) {
  EXPECT_TRUE(CheckThinkBlock("plan</think>42<eos>", true).ok);
  EXPECT_FALSE(CheckThinkBlock("plan</think>42<eos>", true).empty_reasoning);
  EXPECT_TRUE(CheckThinkBlock(" \n</think>42", true).empty_reasoning);
  const ThinkCheck unclosed = CheckThinkBlock("plan plan plan", true);
  EXPECT_FALSE(unclosed.ok);
  EXPECT_NE(unclosed.problem.find("never closed"), std::string::npos);
  EXPECT_FALSE(CheckThinkBlock("a</think>b</think>c", true).ok);
  EXPECT_FALSE(CheckThinkBlock("<think>a</think>b", true).ok);   // re-opened inside
  EXPECT_FALSE(CheckThinkBlock("a</think>b<think>c", true).ok);  // opened in the answer
  EXPECT_FALSE(CheckThinkBlock("", true).ok);
}

TEST(CheckThinkBlockTest, MustOpenItself) {
  EXPECT_TRUE(CheckThinkBlock("  <think>plan</think>42", false).ok);
  EXPECT_FALSE(CheckThinkBlock("plan</think>42", false).ok);
  EXPECT_FALSE(CheckThinkBlock("<think>plan", false).ok);
  EXPECT_FALSE(CheckThinkBlock("<think><think>a</think>", false).ok);
}

TEST(FormatTest, WellFormed) {
  auto fn = Builtin("format");
  const Components c = ScoreOne(*fn, Task(), Answer("42"));
  EXPECT_EQ(Get(c).value, 1);
  EXPECT_EQ(Get(c, "think").value, 1);
  EXPECT_EQ(Get(c, "tool_calls").value, 1);
}

TEST(FormatTest, UnclosedThinkFailsThinkButNotToolCalls) {
  auto fn = Builtin("format");
  Sample s = Answer("");
  s.messages.back().raw_text = "still thinking when the budget ran out";
  s.messages.back().parse_error = "unclosed <think>";
  s.finish_reason = proto::FINISH_MAX_TOKENS;
  const Components c = ScoreOne(*fn, Task(), s);
  EXPECT_EQ(Get(c).value, 0);
  EXPECT_EQ(Get(c).details, "failed: think");
  EXPECT_EQ(Get(c, "think").value, 0);
  EXPECT_EQ(Get(c, "tool_calls").value, 1);  // the parse error is the think problem
}

TEST(FormatTest, MalformedToolCallInALaterTurn) {
  auto fn = Builtin("format");
  Sample s = Answer("42");
  s.messages.insert(s.messages.begin() + 1,
                    Assistant("look it up", "", {ToolCall{.name = "search", .arguments = {}}}));
  s.messages.insert(s.messages.begin() + 2, testing::ToolResult("result"));
  s.messages.back().parse_error = "unclosed <invoke>";
  const Components c = ScoreOne(*fn, Task(), s);
  EXPECT_EQ(Get(c).value, 0);
  EXPECT_EQ(Get(c, "think").value, 1);
  const Component calls = Get(c, "tool_calls");
  EXPECT_EQ(calls.value, 0);
  EXPECT_NE(calls.details.find("turn 1: unclosed <invoke>"), std::string::npos) << calls.details;
}

TEST(FormatTest, OptionalChecks) {
  auto fn = Builtin("format", {{"require_reasoning", "true"}, {"require_answer", "true"}});
  EXPECT_EQ(Get(ScoreOne(*fn, Task(), Answer("42"))).value, 1);
  Sample blank = Answer("  ");
  EXPECT_EQ(Get(ScoreOne(*fn, Task(), blank)).value, 0);
  EXPECT_EQ(Get(ScoreOne(*fn, Task(), blank), "answer").value, 0);
  Sample no_reasoning = Answer("42");
  no_reasoning.messages.back().raw_text = "</think>42<eos>";
  EXPECT_EQ(Get(ScoreOne(*fn, Task(), no_reasoning), "think").value, 0);
  auto lenient = Builtin("format");
  EXPECT_EQ(Get(ScoreOne(*lenient, Task(), no_reasoning)).value, 1);
}

TEST(FormatTest, NoRawTextAndNoTurns) {
  auto fn = Builtin("format");
  Sample s = Answer("42");
  s.messages.back().raw_text.clear();
  const Components c = ScoreOne(*fn, Task(), s);
  EXPECT_FALSE(Get(c, "think").applicable);
  EXPECT_EQ(Get(c).value, 1);  // tool_calls still passes
  Sample empty;
  EXPECT_EQ(Get(ScoreOne(*fn, Task(), empty)).value, 0);
}

TEST(FormatTest, BadParams) {
  EXPECT_EQ(CreateError("format", {{"think", "false"}, {"tool_calls", "false"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("format", {{"think", "false"}, {"require_reasoning", "true"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError("format", {{"think", "maybe"}}).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dsarl::rewards

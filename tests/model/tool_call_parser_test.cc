#include "model/tool_call_parser.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/chat_format.h"
#include "model/tokenizer.h"

namespace dsarl::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ToolCallParser, PlainAnswer) {
  const ParsedAssistantOutput out = ParseAssistantOutput("Let me think.</think>It is 4.<eos>");
  EXPECT_FALSE(out.error.has_value());
  EXPECT_TRUE(out.reasoning_closed);
  EXPECT_EQ(out.reasoning, "Let me think.");
  EXPECT_EQ(out.content, "It is 4.");
  EXPECT_TRUE(out.tool_calls.empty());
}

TEST(ToolCallParser, CallsWithArguments) {
  const ParsedAssistantOutput out = ParseAssistantOutput(
      "<think>need weather</think>Checking.<function_calls>\n"
      "<invoke name=\"get_weather\"><parameter name=\"city\">Paris</parameter>"
      "<parameter name=\"unit\"> C \n</parameter></invoke>\n"
      "<invoke name=\"now\"></invoke></function_calls><eos>");
  ASSERT_FALSE(out.error.has_value()) << out.error->message;
  EXPECT_EQ(out.reasoning, "need weather");
  EXPECT_EQ(out.content, "Checking.");
  ASSERT_EQ(out.tool_calls.size(), 2u);
  EXPECT_EQ(out.tool_calls[0].name, "get_weather");
  // Values are byte-exact, whitespace included.
  EXPECT_THAT(out.tool_calls[0].arguments,
              ElementsAre(Pair("city", "Paris"), Pair("unit", " C \n")));
  ASSERT_NE(out.tool_calls[0].Find("city"), nullptr);
  EXPECT_EQ(*out.tool_calls[0].Find("city"), "Paris");
  EXPECT_EQ(out.tool_calls[0].Find("country"), nullptr);
  EXPECT_EQ(out.tool_calls[1].name, "now");
  EXPECT_TRUE(out.tool_calls[1].arguments.empty());
}

TEST(ToolCallParser, ContentModeWithoutReasoning) {
  const ParsedAssistantOutput out =
      ParseAssistantOutput("Hi <b>there</b>", {.starts_in_reasoning = false});
  EXPECT_FALSE(out.error.has_value());
  EXPECT_EQ(out.content, "Hi <b>there</b>");  // HTML-like text is not markup
  EXPECT_FALSE(out.reasoning_closed);
}

TEST(ToolCallParser, UnclosedThinkKeepsReasoning) {
  const std::string text = "still thinking about it<eos>";
  const ParsedAssistantOutput out = ParseAssistantOutput(text);
  ASSERT_TRUE(out.error.has_value());
  EXPECT_THAT(out.error->message, HasSubstr("unclosed <think>"));
  EXPECT_EQ(out.error->position, text.size());
  EXPECT_EQ(out.reasoning, "still thinking about it");
}

struct BadCase {
  std::string text;     // after "</think>"
  std::string message;  // expected substring of the error
  size_t position;      // expected error position within `text`
};

TEST(ToolCallParser, MalformedCallsAreErrorValuesWithPositions) {
  const std::string fc = "<function_calls>";
  const std::string inv = "<invoke name=\"f\">";
  const std::vector<BadCase> cases = {
      {fc + inv, "unclosed <invoke>", 33},
      {fc + inv + "</invoke>", "unclosed <function_calls>", 42},
      {fc + inv + "<parameter name=\"k\">v", "unclosed <parameter name=\"k\">", 54},
      {fc + "<invoke name=\"\">", "missing tool name", 30},
      {fc + "<invoke name=\"f", "unterminated tool name", 31},
      {fc + "<invoke name=\"a b\">", "malformed tool name", 31},
      {fc + "<invoke name=\"f\"x", "expected '\">' after the tool name", 32},
      {fc + "<parameter name=\"k\">v</parameter>", "<parameter> outside <invoke>", 16},
      {fc + "<result>", "unexpected '<result>' inside <function_calls>", 16},
      {fc + "hello", "unexpected text inside <function_calls>", 16},
      {fc + "</function_calls>", "empty <function_calls> block", 16},
      {fc + inv + "</invoke></function_calls> more", "text after </function_calls>", 60},
      {fc + inv + "<parameter name=\"k\">1</parameter><parameter name=\"k\">2</parameter>",
       "duplicate parameter \"k\"", 83},
      {fc + inv + "<parameter name=\"k\">v<eos>", "unexpected '<eos>' inside the value", 54},
      {fc + inv + "<invoke name=\"g\">", "unexpected '<invoke name=\"' inside <invoke", 33},
      {fc + inv + "junk</invoke>", "unexpected text inside <invoke name=\"f\">", 33},
      {"Answer <|User|> fake", "unexpected '<|User|>' in the answer", 7},
      {"Answer</think>", "unexpected '</think>' in the answer", 6},
      {"Done<eos> and more", "text after <eos>", 10},
  };
  const std::string prefix = "r</think>";
  for (const BadCase& c : cases) {
    const ParsedAssistantOutput out = ParseAssistantOutput(prefix + c.text);
    ASSERT_TRUE(out.error.has_value()) << c.text;
    EXPECT_THAT(out.error->message, HasSubstr(c.message)) << c.text;
    EXPECT_EQ(out.error->position, prefix.size() + c.position)
        << c.text << ": " << out.error->message;
  }
}

TEST(ToolCallParser, KeepsCallsParsedBeforeTheError) {
  const ParsedAssistantOutput out =
      ParseContentAndToolCalls("x<function_calls><invoke name=\"a\"></invoke><invoke name=\"b\">");
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.content, "x");
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].name, "a");
}

TEST(ToolCallParser, ParsesWhatTheChatFormatRenders) {
  ToolCall call{"search", {{"query", "dsa <sparse> \"attention\""}, {"limit", "3"}}};
  const Message turn = Message::Assistant("plan: search", "One moment.", {call, {"noop", {}}});
  const std::string text = Tokenizer().Decode(RenderAssistantOutput(turn).ids);
  const ParsedAssistantOutput out = ParseAssistantOutput(text);
  ASSERT_FALSE(out.error.has_value()) << out.error->message;
  EXPECT_EQ(out.reasoning, turn.reasoning);
  EXPECT_EQ(out.content, turn.content);
  EXPECT_EQ(out.tool_calls, turn.tool_calls);
}

// Random bytes mixed with markup fragments: the parser must never crash, and every error must
// point inside the text.
TEST(ToolCallParser, FuzzNeverCrashes) {
  std::mt19937_64 rng(1234);
  const std::vector<std::string> pieces = {"<think>",
                                           "</think>",
                                           "<function_calls>",
                                           "</function_calls>",
                                           "<invoke name=\"",
                                           "\">",
                                           "</invoke>",
                                           "<parameter name=\"",
                                           "</parameter>",
                                           "<eos>",
                                           "<result>",
                                           "\"",
                                           "<",
                                           ">",
                                           " ",
                                           "\n",
                                           "f",
                                           "k",
                                           "v",
                                           "\xFF",
                                           "\xC3",
                                           std::string(1, '\0')};
  int errors = 0, clean_with_calls = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) {
      if (rng() % 3 == 0) {
        text.push_back(static_cast<char>(rng() & 0xFF));
      } else {
        text += pieces[rng() % pieces.size()];
      }
    }
    const ParsedAssistantOutput out =
        ParseAssistantOutput(text, {.starts_in_reasoning = rng() % 2 == 0});
    if (out.error.has_value()) {
      ++errors;
      ASSERT_LE(out.error->position, text.size()) << out.error->message;
      ASSERT_FALSE(out.error->message.empty());
    } else if (!out.tool_calls.empty()) {
      ++clean_with_calls;
    }
  }
  EXPECT_GT(errors, 1000);  // the fuzzer reaches the error paths
}

// Property: any calls the chat format renders (names and values drawn from an alphabet with quotes,
// angle brackets, newlines and non-UTF-8 bytes, but no markup) parse back to themselves.
TEST(ToolCallParser, RandomCallsRoundTrip) {
  std::mt19937_64 rng(99);
  const std::string alphabet = "ab<>\" \n\t\xC3\xFF/";
  const auto random_text = [&](int max_len) {
    std::string s;
    const int n = static_cast<int>(rng() % (max_len + 1));
    for (int i = 0; i < n; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    return s;
  };
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<ToolCall> calls(1 + rng() % 3);
    for (size_t c = 0; c < calls.size(); ++c) {
      calls[c].name = absl::StrCat("tool_", rng() % 100);
      const int n_args = static_cast<int>(rng() % 4);
      for (int a = 0; a < n_args; ++a) {
        calls[c].arguments.emplace_back(absl::StrCat("k", a), random_text(12));
      }
    }
    const Message turn = Message::Assistant(random_text(20), random_text(20), calls);
    const std::string text = Tokenizer().Decode(RenderAssistantOutput(turn).ids);
    const ParsedAssistantOutput out = ParseAssistantOutput(text);
    ASSERT_FALSE(out.error.has_value()) << out.error->message;
    ASSERT_EQ(out.reasoning, turn.reasoning);
    ASSERT_EQ(out.content, turn.content);
    ASSERT_EQ(out.tool_calls, turn.tool_calls);
  }
}

}  // namespace
}  // namespace dsarl::model

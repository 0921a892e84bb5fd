#include "model/dsml_parser.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/chat_format_dsv32.h"

namespace dsarl::model {
namespace {

using ::testing::HasSubstr;

proto::ToolSpec Tool(std::string name, std::vector<std::pair<std::string, std::string>> params) {
  proto::ToolSpec tool;
  tool.set_name(std::move(name));
  for (const auto& [key, type] : params) {
    proto::ToolParameter* p = tool.add_parameters();
    p->set_name(key);
    p->set_type(type);
  }
  return tool;
}

void ExpectSameTurn(const Message& parsed, const Message& m) {
  EXPECT_EQ(parsed.role, Role::kAssistant);
  EXPECT_EQ(parsed.reasoning, m.reasoning);
  EXPECT_EQ(parsed.content, m.content);
  EXPECT_EQ(parsed.tool_calls, m.tool_calls);
}

TEST(DsmlParser, RoundTripsWhatTheRendererWrites) {
  const std::vector<proto::ToolSpec> tools = {
      Tool("search", {{"query", "string"}, {"limit", "integer"}, {"sites", "array"}}),
      Tool("now", {})};
  const std::vector<Message> turns = {
      Message::Assistant("think", "answer"),
      Message::Assistant("", ""),
      Message::Assistant("多行\n推理 🤔", "内容 🎉\n\n"),
      Message::Assistant("r", "", {{"now", {}}}),
      Message::Assistant("r", "Looking.\n",
                         {{"search", {{"query", "two\nlines\n"}, {"limit", "10"}}},
                          {"search", {{"sites", "[\"a.org\", {\"b\": [1, null]}]"}}},
                          {"now", {}}}),
      Message::Assistant("r", "x", {{"unknown_tool", {{"k", "<function_results> not markup"}}}}),
  };
  for (const Message& m : turns) {
    const std::string text = Dsv32AssistantOutputText(m, tools);
    const Message parsed = ParseDsmlMessage(text);
    EXPECT_EQ(parsed.parse_error, "") << text;
    EXPECT_EQ(parsed.raw_text, text);
    ExpectSameTurn(parsed, m);
    // The same turn in chat mode: the prompt ended with "</think>", so the text starts with the
    // content.
    const std::string chat = text.substr(text.find("</think>") + 8);
    const ParsedAssistantOutput p = ParseDsmlAssistantOutput(chat, {.starts_in_reasoning = false});
    EXPECT_FALSE(p.error.has_value()) << p.error->message;
    EXPECT_EQ(p.content, m.content);
    EXPECT_EQ(p.tool_calls, m.tool_calls);
  }
}

TEST(DsmlParser, AcceptsLooseWhitespaceAndALeadingThink) {
  const ParsedAssistantOutput p = ParseDsmlAssistantOutput(
      "<think>r</think>c<｜DSML｜function_calls> <｜DSML｜invoke name=\"f\">"
      "<｜DSML｜parameter name=\"a\" string=\"false\"> 3 </｜DSML｜parameter>\r\n"
      "</｜DSML｜invoke></｜DSML｜function_calls>\n<｜end▁of▁sentence｜>\n");
  ASSERT_FALSE(p.error.has_value()) << p.error->message;
  EXPECT_TRUE(p.reasoning_closed);
  EXPECT_EQ(p.reasoning, "r");
  EXPECT_EQ(p.content, "c");
  ASSERT_EQ(p.tool_calls.size(), 1u);
  EXPECT_EQ(p.tool_calls[0], (ToolCall{"f", {{"a", " 3 "}}}));  // the value byte-exact
}

TEST(DsmlParser, ReportsMalformedTurns) {
  const std::string calls = "</think><｜DSML｜function_calls>\n";
  const std::string inv = calls + "<｜DSML｜invoke name=\"f\">\n";
  const std::string end = "</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜>";
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"still thinking", "unclosed <think>"},
      {"thinking<｜end▁of▁sentence｜></think>x", "unclosed <think>"},
      {"</think>answer", "missing <｜end▁of▁sentence｜>: the turn did not end"},
      {"</think>a<｜User｜>b<｜end▁of▁sentence｜>", "unexpected '<｜User｜>' in the answer"},
      {"</think>a</think><｜end▁of▁sentence｜>", "unexpected '</think>' in the answer"},
      {"</think>a<｜end▁of▁sentence｜>more", "text after <｜end▁of▁sentence｜>"},
      {"</think><｜DSML｜invoke name=\"f\">", "unexpected '<｜DSML｜invoke name=\"' in the answer"},
      {calls + "</｜DSML｜function_calls><｜end▁of▁sentence｜>", "empty function_calls block"},
      {calls, "unclosed <｜DSML｜function_calls>"},
      {calls + "hello", "unexpected text inside function_calls"},
      {calls + "<｜DSML｜parameter name=\"a\" string=\"true\">1</｜DSML｜parameter>",
       "parameter outside an invoke"},
      {calls + "<｜DSML｜invoke name=\"\">", "missing tool name"},
      {calls + "<｜DSML｜invoke name=\"a b\">", "malformed tool name"},
      {calls + "<｜DSML｜invoke name=\"f", "unterminated tool name"},
      {calls + "<｜DSML｜invoke name=\"f\"", "expected '\">' after the tool name \"f\""},
      {inv, "unclosed invoke of f"},
      {inv + "text" + end, "unexpected text inside the invoke of f"},
      {inv + "<｜DSML｜parameter name=\"a\">1</｜DSML｜parameter>" + end,
       "expected '\" string=\"' after the parameter name \"a\""},
      {inv + "<｜DSML｜parameter name=\"a\" string=\"yes\">1</｜DSML｜parameter>" + end,
       "expected string=\"true\"> or string=\"false\">"},
      {inv + "<｜DSML｜parameter name=\"a\" string=\"false\">abc</｜DSML｜parameter>" + end,
       "the value of \"a\" has string=\"false\" but is not JSON"},
      {inv + "<｜DSML｜parameter name=\"a\" string=\"true\">1", "unclosed parameter \"a\""},
      {inv + "<｜DSML｜parameter name=\"a\" string=\"true\">1<｜end▁of▁sentence｜>",
       "unexpected '<｜end▁of▁sentence｜>' inside the value of \"a\""},
      {inv +
           "<｜DSML｜parameter name=\"a\" string=\"true\">1</｜DSML｜parameter>"
           "<｜DSML｜parameter name=\"a\" string=\"true\">2</｜DSML｜parameter>" +
           end,
       "duplicate parameter \"a\" in the call to f"},
      {inv + "</｜DSML｜invoke>\n</｜DSML｜function_calls>", "missing <｜end▁of▁sentence｜> after"},
      {inv + end.substr(0, end.size() - 27) + "x<｜end▁of▁sentence｜>",
       "text after </｜DSML｜function_calls>"},
  };
  for (const Case& tc : cases) {
    const Message m = ParseDsmlMessage(tc.text);
    EXPECT_THAT(m.parse_error, HasSubstr(tc.error)) << tc.text;
    const ParsedAssistantOutput p = ParseDsmlAssistantOutput(tc.text);
    ASSERT_TRUE(p.error.has_value()) << tc.text;
    EXPECT_LE(p.error->position, tc.text.size()) << tc.text;
  }
}

TEST(DsmlParser, KeepsWhatParsedBeforeAnError) {
  const std::string text =
      "r</think>Calling.\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n"
      "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"g\">\n<｜DSML｜parameter name=\"k\" "
      "string=\"true\">";
  const ParsedAssistantOutput p = ParseDsmlAssistantOutput(text);
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->position, text.size());
  EXPECT_EQ(p.reasoning, "r");
  EXPECT_EQ(p.content, "Calling.");
  ASSERT_EQ(p.tool_calls.size(), 1u);
  EXPECT_EQ(p.tool_calls[0].name, "f");
}

TEST(DsmlParser, ErrorPositionsPointIntoTheWholeText) {
  const std::string text = "reasoning</think>a<｜User｜><｜end▁of▁sentence｜>";
  const ParsedAssistantOutput p = ParseDsmlAssistantOutput(text);
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->position, text.find("<｜User｜>"));
  // Invalid UTF-8 near the error is sanitized in the message.
  const Message m = ParseDsmlMessage("</think>\xff\xfe<｜User｜>\xff");
  EXPECT_THAT(m.parse_error, HasSubstr("\xEF\xBF\xBD"));
}

// Every truncation of a valid turn (a generation cut off by the token budget, or mid-character)
// is reported as an error, never read past its end; only the whole turn parses.
TEST(DsmlParser, EveryTruncationIsAnError) {
  const Message m = Message::Assistant("r 🤔", "c", {{"f", {{"a", "1"}, {"b", "x"}}}, {"g", {}}});
  const std::string text =
      Dsv32AssistantOutputText(m, {Tool("f", {{"a", "integer"}, {"b", "string"}})});
  for (size_t n = 0; n < text.size(); ++n) {
    const ParsedAssistantOutput p = ParseDsmlAssistantOutput(text.substr(0, n));
    ASSERT_TRUE(p.error.has_value()) << n;
    EXPECT_LE(p.error->position, n);
  }
  EXPECT_FALSE(ParseDsmlAssistantOutput(text).error.has_value());
}

}  // namespace
}  // namespace dsarl::model

// Fuzzes the parser of an assistant turn (model/tool_call_parser.h): reasoning, content and tool
// calls from text the policy wrote, which is untrusted and often malformed. Besides never crashing,
// an error must point inside the text, what parses must obey the grammar (names without quotes,
// brackets or spaces; unique keys), and a parsed turn written back in the chat format
// (AssistantOutputText) must parse to the same turn.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "model/chat_format.h"
#include "model/tool_call_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace dsarl::fuzz {
namespace {

using model::ParsedAssistantOutput;

bool IsName(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == '"' || c == '<' || c == '>' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return false;
    }
  }
  return true;
}

void CheckGrammar(absl::string_view text, const ParsedAssistantOutput& out) {
  if (out.error) {
    Require(out.error->position <= text.size(), "error position past the end of the text");
    Require(!out.error->message.empty(), "error without a message");
  }
  Require(absl::StrContains(text, out.reasoning), "reasoning is not text of the turn");
  Require(absl::StrContains(text, out.content), "content is not text of the turn");
  for (const ToolCall& call : out.tool_calls) {
    Require(IsName(call.name), "malformed tool name accepted", call.name);
    std::set<std::string> keys;
    for (const auto& [key, value] : call.arguments) {
      Require(IsName(key), "malformed parameter name accepted", key);
      Require(keys.insert(key).second, "duplicate parameter accepted", key);
      Require(absl::StrContains(text, value), "a value is not text of the turn");
    }
  }
}

// Writes a turn that parsed back in the chat format and parses it again.
void CheckRewrite(const ParsedAssistantOutput& out) {
  const Message turn = Message::Assistant(out.reasoning, out.content, out.tool_calls);
  const std::string text = model::AssistantOutputText(turn);
  const ParsedAssistantOutput again = model::ParseAssistantOutput(text);
  Require(!again.error, "a rewritten turn does not parse", again.error ? again.error->message : "");
  Require(again.content == out.content, "content changed in the rewrite");
  Require(again.tool_calls == out.tool_calls, "tool calls changed in the rewrite");
  // A reasoning that itself starts with "<think>" loses it: the format cannot tell the two apart.
  if (!absl::StartsWith(out.reasoning, "<think>")) {
    Require(again.reasoning == out.reasoning, "reasoning changed in the rewrite");
  }
}

}  // namespace
}  // namespace dsarl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (const bool starts_in_reasoning : {true, false}) {
    const dsarl::model::ParsedAssistantOutput out =
        dsarl::model::ParseAssistantOutput(text, {.starts_in_reasoning = starts_in_reasoning});
    dsarl::fuzz::CheckGrammar(text, out);
    if (!out.error) dsarl::fuzz::CheckRewrite(out);
  }
  return 0;
}

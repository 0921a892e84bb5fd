// The conversation types every module shares: roles, tool calls and messages. The model renders
// and parses them (model/chat_format.h, model/tool_call_parser.h), environments execute the calls
// (envs/), reward functions read whole conversations (rewards/), and proto/chat_proto.h converts
// them to and from their wire forms. One definition, so a field added here reaches all of them.
#ifndef DSARL_BASE_MESSAGE_H_
#define DSARL_BASE_MESSAGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace dsarl {

enum class Role { kSystem, kUser, kAssistant, kTool };

// "system", "user", "assistant", "tool" (the names the wire formats and SFT files use).
const char* RoleName(Role role);
// The inverse of RoleName; nullopt for any other text.
std::optional<Role> ParseRole(absl::string_view name);

// One tool call as the model wrote it. Arguments keep the order they were written in; values are
// the raw text between the parameter tags (a tool converts "3" to an integer when its parameter
// type says so).
struct ToolCall {
  std::string name;
  std::vector<std::pair<std::string, std::string>> arguments;

  // The value of argument `key` (the first, if it is repeated), or nullptr when there is none.
  const std::string* Find(absl::string_view key) const;
  bool operator==(const ToolCall&) const = default;
};

// One message of a conversation. Which fields are used depends on the role; a tool message holds
// the output of one call, and an assistant turn with N calls is followed by N tool messages, in
// call order.
struct Message {
  Role role = Role::kUser;
  // kSystem, kUser: the text. kAssistant: the visible answer (after "</think>", before any tool
  // calls). kTool: the output of one tool call.
  std::string content;
  std::string reasoning;             // kAssistant: the thinking, without the think tags
  std::vector<ToolCall> tool_calls;  // kAssistant: the calls, in order
  // kAssistant, when the turn was generated: the exact text the model wrote, markup included,
  // starting after the prompt's "<think>" (SPEC §4); format checks read it. Empty otherwise.
  std::string raw_text;
  // kAssistant: why the parser rejected raw_text (unclosed think block, malformed tool call, ...);
  // empty when it parsed.
  std::string parse_error;
  bool is_error = false;   // kTool: the environment reported the call as invalid
  int32_t num_tokens = 0;  // kAssistant: tokens the policy generated in this turn

  static Message System(std::string text);
  static Message User(std::string text);
  static Message Assistant(std::string reasoning, std::string content,
                           std::vector<ToolCall> calls = {});
  static Message Tool(std::string output, bool is_error = false);
};

}  // namespace dsarl

#endif  // DSARL_BASE_MESSAGE_H_

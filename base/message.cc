#include "base/message.h"

namespace dsarl {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kSystem:
      return "system";
    case Role::kUser:
      return "user";
    case Role::kAssistant:
      return "assistant";
    case Role::kTool:
      return "tool";
  }
  return "?";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kSystem, Role::kUser, Role::kAssistant, Role::kTool}) {
    if (name == RoleName(role)) return role;
  }
  return std::nullopt;
}

const std::string* ToolCall::Find(absl::string_view key) const {
  for (const auto& [k, v] : arguments) {
    if (k == key) return &v;
  }
  return nullptr;
}

Message Message::System(std::string text) {
  Message m;
  m.role = Role::kSystem;
  m.content = std::move(text);
  return m;
}

Message Message::User(std::string text) {
  Message m;
  m.role = Role::kUser;
  m.content = std::move(text);
  return m;
}

Message Message::Assistant(std::string reasoning, std::string content,
                           std::vector<ToolCall> calls) {
  Message m;
  m.role = Role::kAssistant;
  m.reasoning = std::move(reasoning);
  m.content = std::move(content);
  m.tool_calls = std::move(calls);
  return m;
}

Message Message::Tool(std::string output, bool is_error) {
  Message m;
  m.role = Role::kTool;
  m.content = std::move(output);
  m.is_error = is_error;
  return m;
}

}  // namespace dsarl

#include "proto/chat_proto.h"

#include <algorithm>

namespace dsarl {

proto::ToolCall ToolCallToProto(const ToolCall& call) {
  proto::ToolCall p;
  p.set_name(call.name);
  for (const auto& [key, value] : call.arguments) (*p.mutable_arguments())[key] = value;
  return p;
}

ToolCall ToolCallFromProto(const proto::ToolCall& p) {
  ToolCall call;
  call.name = p.name();
  call.arguments.assign(p.arguments().begin(), p.arguments().end());
  std::sort(call.arguments.begin(), call.arguments.end());
  return call;
}

proto::Message MessageToProto(const Message& m) {
  proto::Message p;
  p.set_role(RoleName(m.role));
  p.set_content(m.content);
  p.set_reasoning(m.reasoning);
  for (const ToolCall& call : m.tool_calls) *p.add_tool_calls() = ToolCallToProto(call);
  p.set_is_error(m.is_error);
  return p;
}

}  // namespace dsarl

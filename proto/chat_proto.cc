// The conversions between base/message.h's types and their protobuf forms, in one place.
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

std::vector<Message> SolutionMessages(const proto::Prompt& prompt) {
  std::vector<Message> turns;
  turns.reserve(prompt.solution_size() + 1);
  for (const proto::SolutionRound& round : prompt.solution()) {
    std::vector<ToolCall> calls;
    calls.reserve(round.calls_size());
    for (const proto::ToolCall& call : round.calls()) calls.push_back(ToolCallFromProto(call));
    turns.push_back(Message::Assistant("", "", std::move(calls)));
  }
  turns.push_back(Message::Assistant("", prompt.solution_answer()));
  return turns;
}

}  // namespace dsarl

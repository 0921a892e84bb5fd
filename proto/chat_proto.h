// The one converter between base/message.h's conversation types and their wire forms
// (proto::ToolCall in data.proto, proto::Message in reward.proto).
#ifndef DSARL_PROTO_CHAT_PROTO_H_
#define DSARL_PROTO_CHAT_PROTO_H_

#include <vector>

#include "base/message.h"
#include "proto/data.pb.h"
#include "proto/reward.pb.h"

namespace dsarl {

proto::ToolCall ToolCallToProto(const ToolCall& call);
// The wire form keeps arguments in a map: they come back sorted by name, so the result is the same
// whatever order the sender's map iterated in.
ToolCall ToolCallFromProto(const proto::ToolCall& call);

// A message as remote reward judges receive it: role, content, reasoning, tool calls, is_error.
// (raw_text, parse_error and num_tokens stay local: judges get them through ScoredSample.)
proto::Message MessageToProto(const Message& message);

// A stored reference solution (Prompt.solution, Prompt.solution_answer) as the assistant turns that
// play it: one per round with its calls and no text, then the answer; reasoning empty throughout.
std::vector<Message> SolutionMessages(const proto::Prompt& prompt);

}  // namespace dsarl

#endif  // DSARL_PROTO_CHAT_PROTO_H_

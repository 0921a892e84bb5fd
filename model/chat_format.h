// The chat format of SPEC §4 (DeepSeek-V3.2 style), rendered straight to token ids with a loss
// mask:
//
//   <bos>{system}<|User|>{user}<|Assistant|><think>{reasoning}</think>{content}
//     <function_calls><invoke name="NAME"><parameter
//     name="K">V</parameter></invoke></function_calls><eos>
//   <function_results><result>{output 1}</result><result>{output 2}</result></function_results>
//   <think>{reasoning}</think>{content}<eos><|User|>...
//
// Why ids and not text: text would have to be re-tokenized, and text written by users or tools
// that contains "<eos>" would turn into markup. Here markup is inserted as special ids and every
// piece of text is encoded as bytes (Tokenizer::Encode), so nothing can forge it.
//
// Loss mask: 1 for what the assistant produces in its turn: reasoning, "</think>", content, the
// tool-call markup and its "<eos>"; 0 for everything the harness writes: <bos>, system, user text,
// "<|User|>", "<|Assistant|>", the opening "<think>" (the generation prompt ends with it), and tool
// results with their markup.
//
// Thinking retention: an assistant turn's reasoning is dropped only when a user message comes after
// it. Turns after the last user message (the current exchange, across any number of tool calls and
// results) keep theirs. A dropped turn renders as `<|Assistant|></think>{content}...<eos>`
// (DeepSeek's form): "</think>" is then template (mask 0). Tool calls and results always stay.
//
// Tool specs go into the system text (RenderSystemText), after the system prompt:
//
//   {system}\n\n## Tools\n\n{fixed instructions showing the markup}\n\n### NAME\nDESCRIPTION\n
//   Parameters:\n- KEY (TYPE, required|optional): DESCRIPTION\n ...
//
// (with "Parameters: none" for a tool without parameters and TYPE "string" when unset).
#ifndef DSARL_MODEL_CHAT_FORMAT_H_
#define DSARL_MODEL_CHAT_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/message.h"
#include "model/tokenizer.h"
#include "model/tool_call_parser.h"
#include "proto/data.pb.h"

namespace dsarl::model {

// A conversation (messages of base/message.h) is valid when: it has at least one message and
// starts with a user message; the system text is in `system`, not a message; a user message follows
// nothing or an assistant message without tool calls; an assistant message follows a user message
// or the last result of a tool-call turn; an assistant message with N tool calls is followed by N
// tool messages, one result each, in call order (a conversation may end right after the calls);
// and no message sets fields of another role.
struct Conversation {
  std::string system;
  std::vector<proto::ToolSpec> tools;
  std::vector<Message> messages;
};

// OK when `conversation` keeps the rules above; InvalidArgument naming the message index and role
// otherwise. Every chat format (this one, model/chat_format_dsv32.h) renders only valid ones.
absl::Status ValidateConversation(const Conversation& conversation);

// Token ids and their loss mask, always the same length.
struct RenderedTokens {
  std::vector<int32_t> ids;
  std::vector<int32_t> loss_mask;

  void Append(int32_t id, int32_t mask);
  void Append(absl::Span<const int32_t> ids, int32_t mask);
  size_t size() const { return ids.size(); }
};

struct RenderOptions {
  // Assistant turns whose reasoning was dropped are shown without it, which is not what the model
  // produced then; by default they are context (mask 0). True trains on their content and calls.
  bool train_on_dropped_reasoning_turns = false;
  // The tokenizer whose ids the result holds (not owned); null: the byte tokenizer. It must have
  // SPEC §4's chat tokens (Tokenizer::CheckChatTokens), else rendering is FailedPrecondition.
  const Tokenizer* tokenizer = nullptr;
};

// The system text with the tool section appended (format above); `system` unchanged when `tools`
// is empty.
std::string RenderSystemText(const std::string& system, absl::Span<const proto::ToolSpec> tools);

// Renders a whole conversation for training. It may end with any message: after a final assistant
// message it ends with that turn's "<eos>". Returns InvalidArgument, naming the message index, when
// the conversation breaks the rules stated at Conversation.
absl::StatusOr<RenderedTokens> RenderConversation(const Conversation& conversation,
                                                  const RenderOptions& options = {});

// Renders a prompt for generation: the conversation (which must end with a user or tool message)
// followed by "<|Assistant|><think>" after a user message, or "<think>" after tool results, ready
// for the model to write its reasoning. The whole prompt is context: loss_mask is all 0. Returns
// InvalidArgument for an invalid conversation or one ending with an assistant message.
absl::StatusOr<RenderedTokens> RenderForGeneration(const Conversation& conversation,
                                                   const RenderOptions& options = {});

// The tokens an assistant writes after the prompt's "<think>": reasoning, "</think>", content,
// tool calls, "<eos>"; all mask 1. (RenderConversation emits exactly these for a retained turn.)
// The message's role is not checked.
RenderedTokens RenderAssistantOutput(const Message& assistant, const Tokenizer& tok = Tokenizer());

// The text of RenderAssistantOutput: what a model writes for `assistant` (to show a reference
// solution, or to script a turn).
std::string AssistantOutputText(const Message& assistant);

// Appends tool outputs to a rollout sequence as context (mask 0):
// "<function_results><result>..</result>...</function_results><think>", after which the model
// continues its reasoning. Returns FailedPrecondition (and leaves `sequence` unchanged) when the
// sequence does not end with "<eos>" (the model's tool-call turn) and InvalidArgument when
// `results` is empty.
absl::Status AppendToolResults(absl::Span<const std::string> results, RenderedTokens* sequence,
                               const Tokenizer& tok = Tokenizer());

}  // namespace dsarl::model

#endif  // DSARL_MODEL_CHAT_FORMAT_H_

// DeepSeek-V3.2's published chat encoding (DeepSeek's encoding_dsv32.py, "DSML" tool calls), as an
// option beside the project's own format (model/chat_format.h, SPEC §4). Why a second format: a
// checkpoint trained by DeepSeek expects its own prompt byte for byte; a prompt in another markup
// costs quality before any training starts. The output is the text encode_messages writes, cut
// into segments that say which text the template wrote (markup: special-token text in it may be
// recognized by a tokenizer) and which came from a user, a tool or the model (content: to be
// tokenized as plain text, so nobody can forge special tokens), each with its loss mask.
//
// Thinking mode ("thinking", the default), for a conversation with system text S, tools T:
//
//   <｜begin▁of▁sentence｜>S\n\n## Tools\n\n...<functions>\n{schema of T[0]}\n...</functions>\n
//   <｜User｜>{user}<｜Assistant｜></think>{content}<｜end▁of▁sentence｜>       (before the last
//   user) <｜User｜>{user}<｜Assistant｜><think>{reasoning}</think>{content}\n\n
//   <｜DSML｜function_calls>\n<｜DSML｜invoke name="NAME">\n
//   <｜DSML｜parameter name="K" string="true|false">V</｜DSML｜parameter>\n...</｜DSML｜invoke>\n
//   </｜DSML｜function_calls><｜end▁of▁sentence｜>
//   \n\n<function_results>\n<result>{output}</result>...\n</function_results>\n\n<think>...
//
// Reasoning is shown only for assistant turns after the last user message (the current exchange);
// earlier turns appear as "</think>{content}{calls}<｜end▁of▁sentence｜>", and tool results before
// the last user message end with "\n\n</think>" instead of "\n\n<think>". Chat mode writes
// "</think>" where thinking mode writes "<think>" and never shows reasoning.
//
// Loss mask (the rules of model/chat_format.h): 1 for what the assistant produces in its turn: its
// reasoning, "</think>", content, the tool-call markup and "<｜end▁of▁sentence｜>"; 0 for the rest
// (BOS, system text and tool section, user text, "<｜User｜>", "<｜Assistant｜>", the "<think>" or
// "</think>" that ends a prompt, tool results with their markup). Turns shown without their
// reasoning (thinking mode, before the last user message) are context: all 0. In chat mode no
// reasoning is dropped, so every assistant turn is trained (its "</think>" belongs to the prompt).
//
// Mapping from dsarl's types to the encoder's input: a system message is written when `system` or
// `tools` is non-empty (the encoder shows tools only inside a system message); a ToolSpec becomes
// {"name", "description", "parameters": {"type": "object", "properties": {KEY: {"type": TYPE
// ("string" when unset), "description" (only when non-empty)}}, "required": [...]}}; a tool-call
// argument is string="true" when the tool's ToolSpec declares the parameter "string" (or leaves
// it unset, or the tool or parameter is unknown) and string="false" otherwise, with the raw value.
//
// Differences from the encoder, all outside what it accepts or writes for well-formed input:
//  - string="false" values are written as given; the encoder re-serializes the parsed JSON (so
//    "1e2" would become "100.0" there). Values that are already in Python's json.dumps form agree.
//  - A turn after the last user message without reasoning and without tool calls is refused by the
//    encoder in thinking mode; here it renders with empty reasoning ("<think></think>{content}").
//  - No "developer" role, no response_format, no context= (continuation) argument.
//  - drop_thinking: the encoder's option is kept, but for the roles dsarl has the encoder shows
//    reasoning only after the last user message whatever its value, so the text does not change.
#ifndef DSARL_MODEL_CHAT_FORMAT_DSV32_H_
#define DSARL_MODEL_CHAT_FORMAT_DSV32_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "base/message.h"
#include "model/chat_format.h"
#include "proto/data.pb.h"

namespace dsarl::model {

// The special-token texts of the format.
inline constexpr absl::string_view kDsv32Bos = "<｜begin▁of▁sentence｜>";
inline constexpr absl::string_view kDsv32Eos = "<｜end▁of▁sentence｜>";
inline constexpr absl::string_view kDsv32User = "<｜User｜>";
inline constexpr absl::string_view kDsv32Assistant = "<｜Assistant｜>";
inline constexpr absl::string_view kDsv32Think = "<think>";
inline constexpr absl::string_view kDsv32EndThink = "</think>";
inline constexpr absl::string_view kDsmlFunctionCalls = "<｜DSML｜function_calls>";
inline constexpr absl::string_view kDsmlEndFunctionCalls = "</｜DSML｜function_calls>";
inline constexpr absl::string_view kDsmlInvoke = "<｜DSML｜invoke name=\"";
inline constexpr absl::string_view kDsmlEndInvoke = "</｜DSML｜invoke>";
inline constexpr absl::string_view kDsmlParameter = "<｜DSML｜parameter name=\"";
inline constexpr absl::string_view kDsmlEndParameter = "</｜DSML｜parameter>";

// One piece of rendered text. Adjacent segments always differ in `markup` or `loss_mask`, and none
// is empty.
struct ChatSegment {
  std::string text;
  bool markup = false;    // written by the template; false: user, tool or model text
  int32_t loss_mask = 0;  // 1: produced by the assistant in its turn
  bool operator==(const ChatSegment&) const = default;
};

struct Dsv32Options {
  bool thinking = true;       // thinking_mode "thinking"; false: "chat"
  bool drop_thinking = true;  // the encoder's drop_thinking (see the file comment)
  bool add_bos = true;        // add_default_bos_token
};

// Renders a whole conversation for training: the text encode_messages writes for it. It may end
// with any message; after a final assistant message it ends with that turn's
// "<｜end▁of▁sentence｜>". Returns InvalidArgument, naming the message index, when the conversation
// breaks the rules stated at Conversation (model/chat_format.h).
absl::StatusOr<std::vector<ChatSegment>> RenderDsv32Conversation(const Conversation& conversation,
                                                                 const Dsv32Options& options = {});

// Renders a prompt for generation; the conversation must end with a user message or with the last
// result of a tool-call turn. The text is what encode_messages writes for it, which ends with
// "<｜Assistant｜><think>" after a user message and "\n\n<think>" after tool results (chat mode:
// "</think>" in place of "<think>"). Every loss_mask is 0. Returns InvalidArgument for an invalid
// conversation or one ending with an assistant message.
absl::StatusOr<std::vector<ChatSegment>> RenderDsv32ForGeneration(const Conversation& conversation,
                                                                  const Dsv32Options& options = {});

// What the model writes after the prompt's "<think>" for `assistant` in thinking mode: reasoning,
// "</think>", content, tool calls, "<｜end▁of▁sentence｜>"; all mask 1 (RenderDsv32Conversation
// emits exactly these for a turn after the last user message). `tools` decide the string
// attribute of each argument (all "true" when empty). The message's role is not checked.
std::vector<ChatSegment> RenderDsv32AssistantOutput(const Message& assistant,
                                                    absl::Span<const proto::ToolSpec> tools = {});
std::string Dsv32AssistantOutputText(const Message& assistant,
                                     absl::Span<const proto::ToolSpec> tools = {});

// Tool outputs appended to a rollout after the model's tool-call turn, as the encoder writes them
// after the last user message: "\n\n<function_results>\n<result>..</result>...\n</function_results>
// \n\n<think>" ("</think>" in chat mode), all mask 0; empty when `results` is empty.
std::vector<ChatSegment> RenderDsv32ToolResults(absl::Span<const std::string> results,
                                                bool thinking = true);

// The JSON schema of one tool (see the file comment) as the encoder writes it in the tool section,
// with Python's json.dumps(ensure_ascii=False) spacing and escapes.
std::string Dsv32ToolSchemaJson(const proto::ToolSpec& tool);

// The concatenated text of `segments`.
std::string JoinSegments(absl::Span<const ChatSegment> segments);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_CHAT_FORMAT_DSV32_H_

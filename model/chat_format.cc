// Renders conversations to ids + loss mask. Validation runs first, so rendering itself cannot fail.
#include "model/chat_format.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "model/tokenizer.h"

namespace dsarl::model {
namespace {

constexpr char kToolInstructions[] =
    "You can call the tools below. To call tools, end your answer with one block:\n"
    "<function_calls><invoke name=\"TOOL\"><parameter name=\"NAME\">VALUE</parameter></invoke>"
    "</function_calls>\n"
    "with one invoke per call. Values are plain text. The results come back in call order as\n"
    "<function_results><result>OUTPUT</result></function_results>";

absl::Status MessageError(size_t index, const Message& m, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("conversation message ", index, " (", RoleName(m.role), "): ", what));
}

absl::Status ValidateFields(size_t i, const Message& m) {
  if (m.role == Role::kSystem) {
    return MessageError(i, m, "the system text goes in the conversation's system field");
  }
  if (m.role != Role::kAssistant && (!m.reasoning.empty() || !m.tool_calls.empty())) {
    return MessageError(i, m, "only assistant messages may have reasoning or tool calls");
  }
  for (const ToolCall& call : m.tool_calls) {
    if (call.name.empty()) return MessageError(i, m, "a tool call has no name");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateConversation(const Conversation& c) {
  if (c.messages.empty()) return absl::InvalidArgumentError("conversation has no messages");
  size_t calls = 0, results = 0;  // of the last assistant turn with calls, and results seen
  auto missing = [&](size_t i, const Message& m) {
    return MessageError(i, m,
                        absl::StrCat("comes after ", results, " of the ", calls,
                                     " tool results the turn before needs"));
  };
  for (size_t i = 0; i < c.messages.size(); ++i) {
    const Message& m = c.messages[i];
    RETURN_IF_ERROR(ValidateFields(i, m));
    const Message* prev = i > 0 ? &c.messages[i - 1] : nullptr;
    switch (m.role) {
      case Role::kSystem:
        break;  // refused by ValidateFields
      case Role::kUser:
        if (results < calls) return missing(i, m);
        if (prev != nullptr && prev->role != Role::kAssistant) {
          return MessageError(i, m, "must follow an assistant message");
        }
        break;
      case Role::kAssistant:
        if (results < calls) return missing(i, m);
        if (prev == nullptr || prev->role == Role::kAssistant) {
          return MessageError(i, m, "must follow a user or tool message");
        }
        calls = m.tool_calls.size();
        results = 0;
        break;
      case Role::kTool:
        if (calls == 0)
          return MessageError(i, m, "must follow an assistant message with tool calls");
        if (results == calls) {
          return MessageError(
              i, m,
              absl::StrCat("one result too many: the turn before made ", calls, " tool calls"));
        }
        ++results;
        break;
    }
  }
  const Message& last = c.messages.back();
  if (last.role == Role::kTool && results < calls) {
    return MessageError(c.messages.size() - 1, last,
                        absl::StrCat("ends the conversation after ", results, " of the ", calls,
                                     " tool results the turn before needs"));
  }
  return absl::OkStatus();
}

namespace {

// Content, tool calls and <eos> of an assistant turn, all with `mask`.
void AppendAnswer(const Tokenizer& tok, const Message& m, int32_t mask, RenderedTokens* out) {
  const ChatTokenIds& k = tok.chat();
  out->Append(tok.Encode(m.content), mask);
  if (m.tool_calls.empty()) {
    out->Append(k.eos, mask);
    return;
  }
  out->Append(k.function_calls, mask);
  for (const ToolCall& call : m.tool_calls) {
    out->Append(k.invoke, mask);
    out->Append(tok.Encode(absl::StrCat(call.name, "\">")), mask);
    for (const auto& [key, value] : call.arguments) {
      out->Append(k.parameter, mask);
      out->Append(tok.Encode(absl::StrCat(key, "\">", value)), mask);
      out->Append(k.end_parameter, mask);
    }
    out->Append(k.end_invoke, mask);
  }
  out->Append(k.end_function_calls, mask);
  out->Append(k.eos, mask);
}

void AppendResults(const Tokenizer& tok, absl::Span<const std::string> results,
                   RenderedTokens* out) {
  const ChatTokenIds& k = tok.chat();
  out->Append(k.function_results, 0);
  for (const std::string& result : results) {
    out->Append(k.result, 0);
    out->Append(tok.Encode(result), 0);
    out->Append(k.end_result, 0);
  }
  out->Append(k.end_function_results, 0);
}

// Renders a validated conversation.
RenderedTokens Render(const Tokenizer& tok, const Conversation& c, const RenderOptions& options) {
  const ChatTokenIds& k = tok.chat();
  size_t last_user = 0;
  for (size_t i = 0; i < c.messages.size(); ++i) {
    if (c.messages[i].role == Role::kUser) last_user = i;
  }
  RenderedTokens out;
  out.Append(k.bos, 0);
  out.Append(tok.Encode(RenderSystemText(c.system, c.tools)), 0);
  for (size_t i = 0; i < c.messages.size(); ++i) {
    const Message& m = c.messages[i];
    switch (m.role) {
      case Role::kUser:
        out.Append(k.user, 0);
        out.Append(tok.Encode(m.content), 0);
        break;
      case Role::kAssistant:
        if (c.messages[i - 1].role == Role::kUser) out.Append(k.assistant, 0);
        if (i > last_user) {
          out.Append(k.think, 0);
          const RenderedTokens turn = RenderAssistantOutput(m, tok);
          out.Append(turn.ids, 1);
        } else {
          out.Append(k.end_think, 0);
          AppendAnswer(tok, m, options.train_on_dropped_reasoning_turns ? 1 : 0, &out);
        }
        break;
      case Role::kTool: {
        // The results of one turn's calls, in one block.
        std::vector<std::string> results;
        for (; i < c.messages.size() && c.messages[i].role == Role::kTool; ++i) {
          results.push_back(c.messages[i].content);
        }
        --i;
        AppendResults(tok, results, &out);
        break;
      }
      case Role::kSystem:
        break;  // refused by Validate
    }
  }
  return out;
}

}  // namespace

void RenderedTokens::Append(int32_t id, int32_t mask) {
  ids.push_back(id);
  loss_mask.push_back(mask);
}

void RenderedTokens::Append(absl::Span<const int32_t> more, int32_t mask) {
  ids.insert(ids.end(), more.begin(), more.end());
  loss_mask.insert(loss_mask.end(), more.size(), mask);
}

std::string RenderSystemText(const std::string& system, absl::Span<const proto::ToolSpec> tools) {
  if (tools.empty()) return system;
  std::string out = system;
  if (!out.empty()) out += "\n\n";
  absl::StrAppend(&out, "## Tools\n\n", kToolInstructions, "\n");
  for (const proto::ToolSpec& tool : tools) {
    absl::StrAppend(&out, "\n### ", tool.name(), "\n");
    if (!tool.description().empty()) absl::StrAppend(&out, tool.description(), "\n");
    if (tool.parameters().empty()) {
      out += "Parameters: none\n";
      continue;
    }
    out += "Parameters:\n";
    for (const proto::ToolParameter& p : tool.parameters()) {
      absl::StrAppend(&out, "- ", p.name(), " (", p.type().empty() ? "string" : p.type(), ", ",
                      p.required() ? "required" : "optional", ")");
      if (!p.description().empty()) absl::StrAppend(&out, ": ", p.description());
      out += "\n";
    }
  }
  return out;
}

namespace {

// The tokenizer of `options` (the byte tokenizer when unset), checked to have the chat tokens.
absl::StatusOr<const Tokenizer*> TokenizerOf(const RenderOptions& options) {
  static const Tokenizer* const kBytes = new Tokenizer();
  if (options.tokenizer == nullptr) return kBytes;
  RETURN_IF_ERROR(options.tokenizer->CheckChatTokens("rendering a conversation"));
  return options.tokenizer;
}

}  // namespace

absl::StatusOr<RenderedTokens> RenderConversation(const Conversation& conversation,
                                                  const RenderOptions& options) {
  RETURN_IF_ERROR(ValidateConversation(conversation));
  ASSIGN_OR_RETURN(const Tokenizer* tok, TokenizerOf(options));
  return Render(*tok, conversation, options);
}

absl::StatusOr<RenderedTokens> RenderForGeneration(const Conversation& conversation,
                                                   const RenderOptions& options) {
  RETURN_IF_ERROR(ValidateConversation(conversation));
  ASSIGN_OR_RETURN(const Tokenizer* tok, TokenizerOf(options));
  const Role last = conversation.messages.back().role;
  if (last == Role::kAssistant) {
    return absl::InvalidArgumentError(
        "a generation prompt must end with a user or tool message, not an assistant message");
  }
  RenderOptions plain = options;
  plain.train_on_dropped_reasoning_turns = false;
  RenderedTokens out = Render(*tok, conversation, plain);
  if (last == Role::kUser) out.Append(tok->chat().assistant, 0);
  out.Append(tok->chat().think, 0);
  out.loss_mask.assign(out.ids.size(), 0);
  return out;
}

RenderedTokens RenderAssistantOutput(const Message& assistant, const Tokenizer& tok) {
  RenderedTokens out;
  out.Append(tok.Encode(assistant.reasoning), 1);
  out.Append(tok.chat().end_think, 1);
  AppendAnswer(tok, assistant, 1, &out);
  return out;
}

std::string AssistantOutputText(const Message& assistant) {
  return Tokenizer().Decode(RenderAssistantOutput(assistant).ids);
}

absl::Status AppendToolResults(absl::Span<const std::string> results, RenderedTokens* sequence,
                               const Tokenizer& tok) {
  if (sequence->ids.empty() || sequence->ids.back() != tok.chat().eos) {
    return absl::FailedPreconditionError(
        "tool results must follow the model's tool-call turn, which ends with <eos>");
  }
  if (results.empty()) return absl::InvalidArgumentError("no tool results to append");
  AppendResults(tok, results, sequence);
  sequence->Append(tok.chat().think, 0);
  return absl::OkStatus();
}

}  // namespace dsarl::model

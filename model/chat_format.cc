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
void AppendAnswer(const Message& m, int32_t mask, RenderedTokens* out) {
  const Tokenizer tok;
  out->Append(tok.Encode(m.content), mask);
  if (m.tool_calls.empty()) {
    out->Append(kEosId, mask);
    return;
  }
  out->Append(kFunctionCallsId, mask);
  for (const ToolCall& call : m.tool_calls) {
    out->Append(kInvokeId, mask);
    out->Append(tok.Encode(absl::StrCat(call.name, "\">")), mask);
    for (const auto& [key, value] : call.arguments) {
      out->Append(kParameterId, mask);
      out->Append(tok.Encode(absl::StrCat(key, "\">", value)), mask);
      out->Append(kEndParameterId, mask);
    }
    out->Append(kEndInvokeId, mask);
  }
  out->Append(kEndFunctionCallsId, mask);
  out->Append(kEosId, mask);
}

void AppendResults(absl::Span<const std::string> results, RenderedTokens* out) {
  const Tokenizer tok;
  out->Append(kFunctionResultsId, 0);
  for (const std::string& result : results) {
    out->Append(kResultId, 0);
    out->Append(tok.Encode(result), 0);
    out->Append(kEndResultId, 0);
  }
  out->Append(kEndFunctionResultsId, 0);
}

// Renders a validated conversation.
RenderedTokens Render(const Conversation& c, const RenderOptions& options) {
  const Tokenizer tok;
  size_t last_user = 0;
  for (size_t i = 0; i < c.messages.size(); ++i) {
    if (c.messages[i].role == Role::kUser) last_user = i;
  }
  RenderedTokens out;
  out.Append(kBosId, 0);
  out.Append(tok.Encode(RenderSystemText(c.system, c.tools)), 0);
  for (size_t i = 0; i < c.messages.size(); ++i) {
    const Message& m = c.messages[i];
    switch (m.role) {
      case Role::kUser:
        out.Append(kUserId, 0);
        out.Append(tok.Encode(m.content), 0);
        break;
      case Role::kAssistant:
        if (c.messages[i - 1].role == Role::kUser) out.Append(kAssistantId, 0);
        if (i > last_user) {
          out.Append(kThinkId, 0);
          const RenderedTokens turn = RenderAssistantOutput(m);
          out.Append(turn.ids, 1);
        } else {
          out.Append(kEndThinkId, 0);
          AppendAnswer(m, options.train_on_dropped_reasoning_turns ? 1 : 0, &out);
        }
        break;
      case Role::kTool: {
        // The results of one turn's calls, in one block.
        std::vector<std::string> results;
        for (; i < c.messages.size() && c.messages[i].role == Role::kTool; ++i) {
          results.push_back(c.messages[i].content);
        }
        --i;
        AppendResults(results, &out);
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

absl::StatusOr<RenderedTokens> RenderConversation(const Conversation& conversation,
                                                  const RenderOptions& options) {
  RETURN_IF_ERROR(ValidateConversation(conversation));
  return Render(conversation, options);
}

absl::StatusOr<RenderedTokens> RenderForGeneration(const Conversation& conversation) {
  RETURN_IF_ERROR(ValidateConversation(conversation));
  const Role last = conversation.messages.back().role;
  if (last == Role::kAssistant) {
    return absl::InvalidArgumentError(
        "a generation prompt must end with a user or tool message, not an assistant message");
  }
  RenderedTokens out = Render(conversation, RenderOptions{});
  if (last == Role::kUser) out.Append(kAssistantId, 0);
  out.Append(kThinkId, 0);
  out.loss_mask.assign(out.ids.size(), 0);
  return out;
}

RenderedTokens RenderAssistantOutput(const Message& assistant) {
  const Tokenizer tok;
  RenderedTokens out;
  out.Append(tok.Encode(assistant.reasoning), 1);
  out.Append(kEndThinkId, 1);
  AppendAnswer(assistant, 1, &out);
  return out;
}

std::string AssistantOutputText(const Message& assistant) {
  return Tokenizer().Decode(RenderAssistantOutput(assistant).ids);
}

absl::Status AppendToolResults(absl::Span<const std::string> results, RenderedTokens* sequence) {
  if (sequence->ids.empty() || sequence->ids.back() != kEosId) {
    return absl::FailedPreconditionError(
        "tool results must follow the model's tool-call turn, which ends with <eos>");
  }
  if (results.empty()) return absl::InvalidArgumentError("no tool results to append");
  AppendResults(results, sequence);
  sequence->Append(kThinkId, 0);
  return absl::OkStatus();
}

}  // namespace dsarl::model

// Renders conversations in DeepSeek-V3.2's encoding as text segments. Validation runs first, so
// rendering itself cannot fail. The template texts below are the encoder's, with its placeholders
// for the DSML and think tokens filled in.
#include "model/chat_format_dsv32.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "model/python_json.h"

namespace dsarl::model {
namespace {

// The encoder's tool section, before the schemas (one JSON object per line) and after them.
constexpr absl::string_view kToolsHeader =
    R"(## Tools

You have access to a set of tools you can use to answer the user's question.
You can invoke functions by writing a "<｜DSML｜function_calls>" block like the following as part of your reply to the user:
<｜DSML｜function_calls>
<｜DSML｜invoke name="$FUNCTION_NAME">
<｜DSML｜parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</｜DSML｜parameter>
...
</｜DSML｜invoke>
<｜DSML｜invoke name="$FUNCTION_NAME2">
...
</｜DSML｜invoke>
</｜DSML｜function_calls>

String and scalar parameters should be specified as is without any escaping or quotes, while lists and objects should use JSON format. The "string" attribute should be set to "true" for string type parameters and "false" for other types (numbers, booleans, arrays, objects).

If the thinking_mode is enabled, then after function results you should strongly consider outputting a thinking block. Here is an example:

<｜DSML｜function_calls>
...
</｜DSML｜function_calls>

<function_results>
...
</function_results>

<think>...thinking about results</think>

Here are the functions available in JSONSchema format:
<functions>
)";
constexpr absl::string_view kToolsFooter = "\n</functions>\n";

// Appends segments, merging a piece into the last segment when both kind and mask match.
class SegmentWriter {
 public:
  void Markup(absl::string_view text, int32_t mask) { Add(text, true, mask); }
  void Content(absl::string_view text, int32_t mask) { Add(text, false, mask); }
  std::vector<ChatSegment> Take() { return std::move(segments_); }

 private:
  void Add(absl::string_view text, bool markup, int32_t mask) {
    if (text.empty()) return;
    if (!segments_.empty() && segments_.back().markup == markup &&
        segments_.back().loss_mask == mask) {
      absl::StrAppend(&segments_.back().text, text);
      return;
    }
    segments_.push_back(ChatSegment{std::string(text), markup, mask});
  }

  std::vector<ChatSegment> segments_;
};

// Whether argument `key` of a call to `tool_name` is written with string="true".
bool IsStringArgument(absl::Span<const proto::ToolSpec> tools, absl::string_view tool_name,
                      absl::string_view key) {
  for (const proto::ToolSpec& tool : tools) {
    if (tool.name() != tool_name) continue;
    for (const proto::ToolParameter& p : tool.parameters()) {
      if (p.name() == key) return p.type().empty() || p.type() == "string";
    }
    return true;
  }
  return true;
}

// Content, then "\n\n" and the DSML calls block when there are calls, then the end token.
void AppendAnswer(const Message& m, absl::Span<const proto::ToolSpec> tools, int32_t mask,
                  SegmentWriter* out) {
  out->Content(m.content, mask);
  if (!m.tool_calls.empty()) {
    out->Markup(absl::StrCat("\n\n", kDsmlFunctionCalls, "\n"), mask);
    for (size_t c = 0; c < m.tool_calls.size(); ++c) {
      const ToolCall& call = m.tool_calls[c];
      if (c > 0) out->Markup("\n", mask);
      out->Markup(kDsmlInvoke, mask);
      out->Content(call.name, mask);
      out->Markup("\">\n", mask);
      for (size_t a = 0; a < call.arguments.size(); ++a) {
        const auto& [key, value] = call.arguments[a];
        if (a > 0) out->Markup("\n", mask);
        out->Markup(kDsmlParameter, mask);
        out->Content(key, mask);
        out->Markup(IsStringArgument(tools, call.name, key) ? "\" string=\"true\">"
                                                            : "\" string=\"false\">",
                    mask);
        out->Content(value, mask);
        out->Markup(kDsmlEndParameter, mask);
      }
      out->Markup(absl::StrCat("\n", kDsmlEndInvoke), mask);
    }
    out->Markup(absl::StrCat("\n", kDsmlEndFunctionCalls), mask);
  }
  out->Markup(kDsv32Eos, mask);
}

void AppendAssistantOutput(const Message& m, absl::Span<const proto::ToolSpec> tools,
                           SegmentWriter* out) {
  out->Content(m.reasoning, 1);
  out->Markup(kDsv32EndThink, 1);
  AppendAnswer(m, tools, 1, out);
}

void AppendToolResults(absl::Span<const std::string> results, bool open_thinking,
                       SegmentWriter* out) {
  if (results.empty()) return;
  out->Markup("\n\n<function_results>", 0);
  for (const std::string& result : results) {
    out->Markup("\n<result>", 0);
    out->Content(result, 0);
    out->Markup("</result>", 0);
  }
  out->Markup("\n</function_results>\n\n", 0);
  out->Markup(open_thinking ? kDsv32Think : kDsv32EndThink, 0);
}

void AppendSystem(const Conversation& c, SegmentWriter* out) {
  out->Content(c.system, 0);
  if (c.tools.empty()) return;
  out->Markup(absl::StrCat("\n\n", kToolsHeader), 0);
  for (size_t i = 0; i < c.tools.size(); ++i) {
    if (i > 0) out->Markup("\n", 0);
    out->Content(Dsv32ToolSchemaJson(c.tools[i]), 0);
  }
  out->Markup(kToolsFooter, 0);
}

// Renders a validated conversation.
std::vector<ChatSegment> Render(const Conversation& c, const Dsv32Options& options) {
  size_t last_user = 0;  // validated: messages[0] is a user message
  for (size_t i = 0; i < c.messages.size(); ++i) {
    if (c.messages[i].role == Role::kUser) last_user = i;
  }
  SegmentWriter out;
  if (options.add_bos) out.Markup(kDsv32Bos, 0);
  AppendSystem(c, &out);
  for (size_t i = 0; i < c.messages.size(); ++i) {
    const Message& m = c.messages[i];
    // The encoder opens the reasoning only for the current exchange, and only in thinking mode.
    const bool current = options.thinking && i >= last_user;
    switch (m.role) {
      case Role::kUser:
        out.Markup(kDsv32User, 0);
        out.Content(m.content, 0);
        out.Markup(kDsv32Assistant, 0);
        out.Markup(current ? kDsv32Think : kDsv32EndThink, 0);
        break;
      case Role::kAssistant:
        if (current) {
          AppendAssistantOutput(m, c.tools, &out);
        } else {
          AppendAnswer(m, c.tools, options.thinking ? 0 : 1, &out);
        }
        break;
      case Role::kTool: {
        // The results of one turn's calls, in one block.
        std::vector<std::string> results;
        for (; i < c.messages.size() && c.messages[i].role == Role::kTool; ++i) {
          results.push_back(c.messages[i].content);
        }
        --i;
        AppendToolResults(results, current, &out);
        break;
      }
      case Role::kSystem:
        break;  // refused by Validate
    }
  }
  return out.Take();
}

}  // namespace

absl::StatusOr<std::vector<ChatSegment>> RenderDsv32Conversation(const Conversation& conversation,
                                                                 const Dsv32Options& options) {
  RETURN_IF_ERROR(ValidateConversation(conversation));
  return Render(conversation, options);
}

absl::StatusOr<std::vector<ChatSegment>> RenderDsv32ForGeneration(const Conversation& conversation,
                                                                  const Dsv32Options& options) {
  RETURN_IF_ERROR(ValidateConversation(conversation));
  if (conversation.messages.back().role == Role::kAssistant) {
    return absl::InvalidArgumentError(
        "a generation prompt must end with a user or tool message, not an assistant message");
  }
  SegmentWriter out;
  for (const ChatSegment& s : Render(conversation, options)) {
    if (s.markup) {
      out.Markup(s.text, 0);
    } else {
      out.Content(s.text, 0);
    }
  }
  return out.Take();
}

std::vector<ChatSegment> RenderDsv32AssistantOutput(const Message& assistant,
                                                    absl::Span<const proto::ToolSpec> tools) {
  SegmentWriter out;
  AppendAssistantOutput(assistant, tools, &out);
  return out.Take();
}

std::string Dsv32AssistantOutputText(const Message& assistant,
                                     absl::Span<const proto::ToolSpec> tools) {
  return JoinSegments(RenderDsv32AssistantOutput(assistant, tools));
}

std::vector<ChatSegment> RenderDsv32ToolResults(absl::Span<const std::string> results,
                                                bool thinking) {
  SegmentWriter out;
  AppendToolResults(results, thinking, &out);
  return out.Take();
}

std::string Dsv32ToolSchemaJson(const proto::ToolSpec& tool) {
  Json properties = Json::Object();
  Json required = Json::Array();
  for (const proto::ToolParameter& p : tool.parameters()) {
    Json property = Json::Object();
    property.Set("type", Json::String(p.type().empty() ? "string" : p.type()));
    if (!p.description().empty()) property.Set("description", Json::String(p.description()));
    properties.Set(p.name(), std::move(property));
    if (p.required()) required.Push(Json::String(p.name()));
  }
  Json parameters = Json::Object();
  parameters.Set("type", Json::String("object"));
  parameters.Set("properties", std::move(properties));
  parameters.Set("required", std::move(required));
  Json schema = Json::Object();
  schema.Set("name", Json::String(tool.name()));
  schema.Set("description", Json::String(tool.description()));
  schema.Set("parameters", std::move(parameters));
  return PythonJsonDumps(schema);
}

std::string JoinSegments(absl::Span<const ChatSegment> segments) {
  std::string out;
  for (const ChatSegment& s : segments) absl::StrAppend(&out, s.text);
  return out;
}

}  // namespace dsarl::model

#include "learner/sft_data.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/json.h"
#include "base/message.h"
#include "base/status_macros.h"
#include "model/chat_format.h"

namespace dsarl::learner {
namespace {

TrainSample FromRendered(const model::RenderedTokens& r) {
  TrainSample s;
  s.tokens.assign(r.ids.begin(), r.ids.end());
  s.loss_mask.assign(r.loss_mask.begin(), r.loss_mask.end());
  if (!s.loss_mask.empty()) s.loss_mask[0] = 0;
  s.behaviour_logprobs.assign(s.tokens.size(), 0.0f);
  return s;
}

}  // namespace

absl::StatusOr<TrainSample> RenderSolution(const proto::Prompt& prompt, const proto::EnvSpec& spec,
                                           envs::EnvFactory* factory, const model::Tokenizer& tok,
                                           model::ChatFormat format) {
  const std::string who = absl::StrCat("prompt ", prompt.id());
  auto env = factory->Make(spec);
  if (!env.ok()) return Annotate(env.status(), who);
  auto ep = (*env)->Reset(prompt.task_seed(), prompt.difficulty());
  if (!ep.ok()) return Annotate(ep.status(), who);
  model::Conversation conv;
  conv.system = prompt.system();
  conv.tools.assign(prompt.tools().begin(), prompt.tools().end());
  conv.messages.push_back(Message::User(prompt.user()));
  for (const auto& round : ep->task.solution.rounds) {
    conv.messages.push_back(Message::Assistant("", "", round));
    auto step = (*env)->Step(ep->state.get(), round);
    if (!step.ok()) return Annotate(step.status(), who);
    for (const auto& r : step->results)
      conv.messages.push_back(Message::Tool(r.output, r.is_error));
  }
  conv.messages.push_back(Message::Assistant("", ep->task.solution.final_answer));
  (*env)->Close(ep->state.get());
  ASSIGN_OR_RETURN(model::RenderedTokens r, model::RenderChat(conv, format, tok, false));
  return FromRendered(r);
}

absl::StatusOr<std::vector<TrainSample>> LoadConversations(const std::string& path, int max_len,
                                                           const model::Tokenizer& tok,
                                                           model::ChatFormat format) {
  std::vector<TrainSample> out;
  auto parse = [&](absl::string_view line, int64_t lineno) -> absl::Status {
    if (line.find_first_not_of(" \t\r") == absl::string_view::npos) return absl::OkStatus();
    const std::string where = absl::StrCat(path, ":", lineno);
    auto j = ParseJson(line);
    if (!j.ok()) return Annotate(j.status(), where);
    model::Conversation conv;
    if (const Json* s = j->Find("system"); s && s->is_string()) conv.system = s->string_value();
    const Json* msgs = j->Find("messages");
    if (msgs == nullptr || !msgs->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": \"messages\" must be an array"));
    }
    for (const Json& m : msgs->array()) {
      const Json* role = m.Find("role");
      const std::string r = role && role->is_string() ? role->string_value() : "";
      auto str = [&](const char* k) {
        const Json* v = m.Find(k);
        return v && v->is_string() ? v->string_value() : std::string();
      };
      if (r == "user") {
        conv.messages.push_back(Message::User(str("content")));
      } else if (r == "assistant") {
        std::vector<ToolCall> calls;
        if (const Json* tc = m.Find("tool_calls"); tc && tc->is_array()) {
          for (const Json& c : tc->array()) {
            ToolCall call;
            if (const Json* n = c.Find("name"); n && n->is_string()) call.name = n->string_value();
            if (const Json* a = c.Find("arguments"); a && a->is_object()) {
              for (const auto& [k, v] : a->object()) {
                call.arguments.push_back({k, v.is_string() ? v.string_value() : v.Dump()});
              }
            }
            calls.push_back(call);
          }
        }
        conv.messages.push_back(Message::Assistant(str("reasoning"), str("content"), calls));
      } else if (r == "tool") {
        // One line's "results" are the outputs of the preceding turn's calls, in call order.
        if (const Json* rs = m.Find("results"); rs && rs->is_array()) {
          for (const Json& x : rs->array()) {
            conv.messages.push_back(Message::Tool(x.is_string() ? x.string_value() : x.Dump()));
          }
        }
      } else {
        return absl::InvalidArgumentError(absl::StrCat(where, ": unknown role '", r, "'"));
      }
    }
    auto rendered = model::RenderChat(conv, format, tok, false);
    if (!rendered.ok()) return Annotate(rendered.status(), where);
    if (static_cast<int>(rendered->ids.size()) > max_len) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": conversation has ", rendered->ids.size(), " tokens, more than ", max_len));
    }
    out.push_back(FromRendered(*rendered));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(ForEachLine(path, kMaxLineBytes, "conversations file", parse));
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no conversations"));
  return out;
}

}  // namespace dsarl::learner

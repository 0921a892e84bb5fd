// The small shared pieces of the environment interface: the chat-format text of a reference
// solution, and the Task -> Prompt conversion synthesis stores.
#include "envs/environment.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dsarl::envs {

std::string FormatAssistantTurn(absl::string_view content, absl::Span<const ToolCall> calls) {
  std::string out = absl::StrCat("</think>", content);
  if (!calls.empty()) {
    out += "<function_calls>";
    for (const ToolCall& call : calls) {
      absl::StrAppend(&out, "<invoke name=\"", call.name, "\">");
      for (const auto& [key, value] : call.arguments) {
        absl::StrAppend(&out, "<parameter name=\"", key, "\">", value, "</parameter>");
      }
      out += "</invoke>";
    }
    out += "</function_calls>";
  }
  out += "<eos>";
  return out;
}

std::vector<std::string> FormatSolutionTurns(const Solution& solution) {
  std::vector<std::string> turns;
  turns.reserve(solution.rounds.size() + 1);
  for (const auto& round : solution.rounds) turns.push_back(FormatAssistantTurn("", round));
  turns.push_back(FormatAssistantTurn(solution.final_answer, {}));
  return turns;
}

proto::Prompt TaskToPrompt(const Task& task, const proto::EnvSpec& spec, uint64_t seed, int level) {
  proto::Prompt p;
  p.set_env_id(spec.id());
  p.set_category(spec.category());
  p.set_task_seed(seed);
  p.set_difficulty(level);
  p.set_system(task.system);
  p.set_user(task.user);
  for (const proto::ToolSpec& t : task.tools) *p.add_tools() = t;
  for (const auto& [k, v] : task.reference) (*p.mutable_reference())[k] = v;
  for (std::string& turn : FormatSolutionTurns(task.solution))
    p.add_solution_turns(std::move(turn));
  return p;
}

absl::Status CheckLevel(const proto::EnvSpec& spec, int level) {
  if (level < 0 || level > spec.difficulty()) {
    return absl::InvalidArgumentError(absl::StrCat("level ", level, " is outside the ladder 0..",
                                                   spec.difficulty(), " of environment ", spec.id(),
                                                   " (", spec.category(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> IntParam(const proto::EnvSpec& spec, const std::string& key,
                                 int64_t fallback, int64_t lo, int64_t hi) {
  auto it = spec.params().find(key);
  if (it == spec.params().end()) return fallback;
  int64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v) || v < lo || v > hi) {
    return absl::InvalidArgumentError(absl::StrCat("environment ", spec.id(), " (", spec.category(),
                                                   "): parameter ", key, "='", it->second,
                                                   "' is not an integer in [", lo, ", ", hi, "]"));
  }
  return v;
}

}  // namespace dsarl::envs

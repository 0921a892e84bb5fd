// The small shared pieces of the environment interface: the Task -> Prompt conversion synthesis
// stores, and the checks of levels and parameters every category makes.
#include "envs/environment.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/chat_proto.h"

namespace dsarl::envs {

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
  for (const std::vector<ToolCall>& round : task.solution.rounds) {
    proto::SolutionRound* stored = p.add_solution();
    for (const ToolCall& call : round) *stored->add_calls() = ToolCallToProto(call);
  }
  p.set_solution_answer(task.solution.final_answer);
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

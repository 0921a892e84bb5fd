// The episode loop and the synthesis-time task check (episode.h).
#include "envs/episode.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace dsarl::envs {

EpisodeRecord RunEpisode(const Environment& env, uint64_t seed, int level, const Policy& policy,
                         const RunOptions& options) {
  EpisodeRecord rec;
  absl::StatusOr<Episode> episode = env.Reset(seed, level);
  if (!episode.ok()) {
    rec.infra_error = absl::StrCat("reset: ", episode.status().ToString());
    return rec;
  }
  rec.task = episode->task;
  EpisodeState* state = episode->state.get();
  auto finish = [&](std::string infra_error) {
    rec.infra_error = std::move(infra_error);
    env.Close(state);
    return rec;
  };
  for (int turn = 0;; ++turn) {
    absl::StatusOr<Action> action = policy(rec.task, rec.turns);
    if (!action.ok()) return finish(absl::StrCat("policy: ", action.status().ToString()));
    if (action->calls.empty()) {
      rec.final_answer = action->final_answer;
      break;
    }
    if (turn >= options.max_turns) {
      rec.truncated = true;
      break;
    }
    absl::StatusOr<StepResult> step = env.Step(state, action->calls);
    if (!step.ok()) return finish(absl::StrCat("step: ", step.status().ToString()));
    if (step->results.size() != action->calls.size()) {
      return finish(absl::StrCat("step: ", action->calls.size(), " calls gave ",
                                 step->results.size(), " results"));
    }
    rec.num_tool_calls += static_cast<int>(action->calls.size());
    for (const ToolResult& r : step->results) rec.num_tool_errors += r.is_error;
    rec.turns.push_back(Turn{std::move(action->calls), std::move(step->results)});
    if (step->done) break;
  }
  absl::StatusOr<Verdict> verdict = env.Verify(*state, rec.final_answer);
  if (!verdict.ok()) return finish(absl::StrCat("verify: ", verdict.status().ToString()));
  rec.verdict = *verdict;
  return finish("");
}

Policy ReferencePolicy() {
  return [](const Task& task, const std::vector<Turn>& turns) -> absl::StatusOr<Action> {
    Action a;
    if (turns.size() < task.solution.rounds.size()) {
      a.calls = task.solution.rounds[turns.size()];
    } else {
      a.final_answer = task.solution.final_answer;
    }
    return a;
  };
}

absl::Status CheckTask(const Environment& env, uint64_t seed, int level, Episode episode) {
  const Task& task = episode.task;
  if (task.user.empty()) return absl::FailedPreconditionError("the task has no user message");
  std::string outputs;
  absl::Status status = absl::OkStatus();
  for (const auto& round : task.solution.rounds) {
    absl::StatusOr<StepResult> step = env.Step(episode.state.get(), round);
    if (!step.ok()) {
      status = step.status();
      break;
    }
    for (size_t i = 0; i < step->results.size() && i < round.size(); ++i) {
      if (step->results[i].is_error) {
        status = absl::FailedPreconditionError(
            absl::StrCat("solution call ", round[i].name, " failed: ", step->results[i].output));
        break;
      }
      absl::StrAppend(&outputs, step->results[i].output, "\n");
    }
    if (!status.ok()) break;
  }
  if (status.ok()) {
    absl::StatusOr<Verdict> v = env.Verify(*episode.state, task.solution.final_answer);
    if (!v.ok()) {
      status = v.status();
    } else if (v->score < 1) {
      status = absl::FailedPreconditionError(
          absl::StrCat("the reference solution scores ", v->score, ": ", v->details));
    }
  }
  if (status.ok() && task.check_answer_in_outputs) {
    auto it = task.reference.find("answer");
    const std::string& answer =
        it != task.reference.end() ? it->second : task.solution.final_answer;
    if (!absl::StrContains(outputs, answer)) {
      status = absl::FailedPreconditionError(
          absl::StrCat("the answer '", answer, "' is not in the solution's tool outputs"));
    }
  }
  env.Close(episode.state.get());
  if (status.ok() && task.check_noop_fails) {
    ASSIGN_OR_RETURN(Episode fresh, env.Reset(seed, level));
    absl::StatusOr<Verdict> v = env.Verify(*fresh.state, task.solution.final_answer);
    env.Close(fresh.state.get());
    if (!v.ok()) return v.status();
    if (v->score >= 1) {
      return absl::FailedPreconditionError("doing nothing already scores 1");
    }
  }
  return status;
}

}  // namespace dsarl::envs

// SingleTurnEnvironment: problem -> task, no tools, answer matching.
#include "envs/single_turn.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "envs/toolbox.h"

namespace dsarl::envs {
namespace {

class SingleTurnState : public EpisodeState {
 public:
  explicit SingleTurnState(Problem p) : problem(std::move(p)) {}
  Problem problem;
};

}  // namespace

absl::StatusOr<Episode> SingleTurnEnvironment::Reset(uint64_t seed, int level) const {
  RETURN_IF_ERROR(CheckLevel(spec_, level));
  Rng rng(DeriveSeed({spec_.seed(), seed, static_cast<uint64_t>(level)}));
  ASSIGN_OR_RETURN(Problem problem, MakeProblem(rng, level));
  Episode episode;
  episode.task.system = system_;
  episode.task.user = problem.user;
  episode.task.reference["answer"] = problem.answer;
  episode.task.reference["match"] = AnswerMatchName(problem.match);
  episode.task.reference["verifier"] = "answer";
  episode.task.solution.final_answer = problem.answer;
  episode.state = std::make_unique<SingleTurnState>(std::move(problem));
  return episode;
}

absl::StatusOr<StepResult> SingleTurnEnvironment::Step(EpisodeState* state,
                                                       absl::Span<const ToolCall> calls) const {
  if (dynamic_cast<SingleTurnState*>(state) == nullptr) {
    return absl::FailedPreconditionError("Step: the episode state is not one of this environment");
  }
  StepResult out;
  for (const ToolCall& call : calls) out.results.push_back(UnknownToolResult(call.name, {}));
  return out;
}

absl::StatusOr<Verdict> SingleTurnEnvironment::Verify(const EpisodeState& state,
                                                      absl::string_view final_answer) const {
  const auto* s = dynamic_cast<const SingleTurnState*>(&state);
  if (s == nullptr) {
    return absl::FailedPreconditionError(
        "Verify: the episode state is not one of this environment");
  }
  return MatchAnswer(s->problem.match, s->problem.answer, final_answer);
}

std::string SingleTurnSystem(absl::string_view instruction, int style) {
  static constexpr const char* kRules[] = {
      "Reply with only the answer.",
      "Answer with the result alone, nothing else.",
      "Give just the final answer.",
      "Write only the answer, with no explanation.",
  };
  return absl::StrCat(instruction, " ", kRules[static_cast<unsigned>(style) % 4]);
}

}  // namespace dsarl::envs

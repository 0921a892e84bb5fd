// The base of the single-turn reasoning families: a family only says how to make one problem
// (question and expected answer) from a seeded generator and a difficulty level; this class turns
// that into tasks, refuses tool calls with an error observation, and verifies the answer.
//
// Why a base class: twelve families share everything except the problem, and a new family should
// be a screenful of code (docs/envs.md walks through one).
#ifndef DSARL_ENVS_SINGLE_TURN_H_
#define DSARL_ENVS_SINGLE_TURN_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "envs/answer.h"
#include "envs/environment.h"
#include "envs/registry.h"
#include "envs/rng.h"

namespace dsarl::envs {

// One problem of a family.
struct Problem {
  std::string user;    // the question
  std::string answer;  // the expected answer, as the reference solution writes it
  AnswerMatch match = AnswerMatch::kText;
};

class SingleTurnEnvironment : public Environment {
 public:
  // `system` is the system text of every task of this environment.
  SingleTurnEnvironment(proto::EnvSpec spec, std::string system)
      : spec_(std::move(spec)), system_(std::move(system)) {}

  const proto::EnvSpec& spec() const final { return spec_; }
  // A task whose reference solution is just the answer; `rng` is seeded from (spec seed, seed,
  // level). InvalidArgument outside the ladder; MakeProblem's errors.
  absl::StatusOr<Episode> Reset(uint64_t seed, int level) const final;
  // Every call gets an is_error result: these tasks have no tools.
  absl::StatusOr<StepResult> Step(EpisodeState* state,
                                  absl::Span<const ToolCall> calls) const final;
  // MatchAnswer of the problem's rule. FailedPrecondition for a foreign state.
  absl::StatusOr<Verdict> Verify(const EpisodeState& state,
                                 absl::string_view final_answer) const final;

 protected:
  // Makes the problem of `level` (0..spec().difficulty). Must be a function of `rng` and `level`
  // (and the environment's parameters) only.
  virtual absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const = 0;

 private:
  proto::EnvSpec spec_;
  std::string system_;
};

// A system text for single-turn families: `instruction` plus the reply rule in one of a few
// wordings chosen by `style` (an environment parameter), so environments differ in phrasing.
std::string SingleTurnSystem(absl::string_view instruction, int style);

// The registry entry of a single-turn family `Env`, which provides
//   static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec);
// Its ladder is 0..4. `sample_params` adds family parameters to the common "style" (0..3).
template <typename Env>
Category SingleTurnCategory(
    std::string name, std::string description,
    std::function<void(Rng&, std::map<std::string, std::string>*)> sample_params = nullptr) {
  Category c;
  c.name = std::move(name);
  c.kind = CategoryKind::kReasoning;
  c.description = std::move(description);
  c.top_level = 4;
  c.sample_params = [extra = std::move(sample_params)](Rng& rng) {
    std::map<std::string, std::string> params;
    params["style"] = std::to_string(rng.Uniform(0, 3));
    if (extra) extra(rng, &params);
    return params;
  };
  c.build = [](const proto::EnvSpec& spec) { return Env::Create(spec); };
  return c;
}

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_SINGLE_TURN_H_

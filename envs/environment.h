// The interface environment authors implement, and the values that cross it.
//
// An environment is built from a proto::EnvSpec (category, parameters, seed, difficulty) and is a
// pure function of it: the same spec always builds the same environment. It hands out episodes:
//
//   Reset(seed, level)  -> Episode: the task (system text, user message, tool specs, reference
//                          data, a reference solution) and the episode's own state
//   Step(state, calls)  -> one ToolResult per call, in order (multi-turn environments)
//   Verify(state, answer) -> Verdict: a score in [0, 1] and details for people
//   Close(state)        -> frees what the episode holds outside `state` (remote sessions)
//
// The model's own text never reaches an environment: the rollout parses it (model/tool_call_parser)
// into ToolCalls and a final answer. That keeps envs/ free of the model (DESIGN.md).
//
// Two kinds of failure, kept apart on purpose:
//   * The model's mistakes (unknown tool, missing or malformed argument, wrong answer) are normal
//     outcomes: a ToolResult with is_error = true, or a low score. Never a Status error.
//   * The environment's own failures (a plugin that threw or hung, a remote server that died, an
//     invalid level, a corrupted state) are Status errors. The caller records them as an
//     infrastructure error on the episode, never as a score of 0 (DESIGN.md, "Errors are values").
//
// Concurrency: every method is const, and all per-episode data lives in the EpisodeState the
// caller owns, so one Environment serves any number of concurrent episodes from any threads. Calls
// on the same episode must not overlap.
#ifndef DSARL_ENVS_ENVIRONMENT_H_
#define DSARL_ENVS_ENVIRONMENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "base/message.h"
#include "proto/data.pb.h"

namespace dsarl::envs {

// Tool calls are the project's one ToolCall (base/message.h), as the model wrote them.
using ::dsarl::ToolCall;

// The output of one call, shown to the model in <result>...</result>.
struct ToolResult {
  std::string output;
  bool is_error = false;  // the call was invalid (unknown tool, bad argument); still shown
  bool operator==(const ToolResult&) const = default;
};

struct StepResult {
  std::vector<ToolResult> results;  // exactly one per call, in call order
  bool done = false;                // the episode ended (e.g. a submit tool was called)
};

struct Verdict {
  double score = 0;     // in [0, 1]; 1 means solved
  std::string details;  // why, for people: "expected 42, got 41"
};

// The reference solution of a task: rounds of tool calls (each round is one assistant turn, whose
// results come back together), then the final answer. It only calls tools: everything it knows
// comes from their outputs.
struct Solution {
  std::vector<std::vector<ToolCall>> rounds;
  std::string final_answer;
};

// What the model is given, plus what the harness keeps to itself.
struct Task {
  std::string system;                  // system text, without the tool section (the chat format
                                       // appends that from `tools`)
  std::string user;                    // the first user message
  std::vector<proto::ToolSpec> tools;  // empty for single-turn tasks
  // Reference data for verifiers and rewards. Built-in environments set "verifier" (what Verify
  // checks: "answer", "state" (the final database) or "answer+state"), and for answers "answer"
  // (the expected final answer) and "match" (how it is compared, answer.h).
  std::map<std::string, std::string> reference;
  Solution solution;
  // Checks synthesis runs beyond "the reference solution scores 1": the solution's tool outputs
  // contain the expected answer (lookup tasks: the tools, not the generator, must know it), and an
  // episode without any tool call scores below 1 (tasks verified by the final database state).
  bool check_answer_in_outputs = false;
  bool check_noop_fails = false;
};

// Everything one episode changes. Environments derive their own; callers only own and pass it.
class EpisodeState {
 public:
  virtual ~EpisodeState() = default;
};

struct Episode {
  Task task;
  std::unique_ptr<EpisodeState> state;
};

class Environment {
 public:
  virtual ~Environment() = default;

  // The spec this environment was built from. spec().difficulty is the top of its difficulty
  // ladder: Reset accepts levels 0..spec().difficulty.
  virtual const proto::EnvSpec& spec() const = 0;

  // Starts an episode: the task for (seed, level) and a fresh state. Deterministic: the same
  // (spec, seed, level) gives the same task. InvalidArgument when `level` is outside the ladder;
  // other codes for infrastructure failures.
  virtual absl::StatusOr<Episode> Reset(uint64_t seed, int level) const = 0;

  // Runs `calls` in order against the episode's state and returns one result per call. Invalid
  // calls give is_error results, not errors. Errors: FailedPrecondition when `state` does not
  // belong to this environment or the episode is over; infrastructure codes otherwise.
  virtual absl::StatusOr<StepResult> Step(EpisodeState* state,
                                          absl::Span<const ToolCall> calls) const = 0;

  // Scores the final answer (the model's last visible text) against the episode's state. Verdicts
  // of wrong answers are OK values with a low score; errors are infrastructure failures only.
  virtual absl::StatusOr<Verdict> Verify(const EpisodeState& state,
                                         absl::string_view final_answer) const = 0;

  // Frees what the episode holds outside `state` (a remote session). Best effort, idempotent.
  virtual void Close(EpisodeState* state) const { (void)state; }

  // A canonical hash of the environment's structure (its entities, attributes and relations), so
  // `dsarl envs stats` can count how many environments really differ; "" for environments without
  // a database schema. Two environments with the same hash have the same structure.
  virtual std::string SchemaHash() const { return ""; }
};

// The stored form of a task: system, user, tools, reference, the solution (rounds of calls and the
// answer; model/chat_format.h renders them as text when needed), and the ids that make
// it reproducible (env_id, category, task_seed, difficulty = level). Prompt.id is left 0.
proto::Prompt TaskToPrompt(const Task& task, const proto::EnvSpec& spec, uint64_t seed, int level);

// InvalidArgument naming the ladder when `level` is not in 0..spec.difficulty.
absl::Status CheckLevel(const proto::EnvSpec& spec, int level);

// The parameter `key` of `spec` parsed as an integer in [lo, hi]; `fallback` when absent.
// InvalidArgument naming the parameter otherwise.
absl::StatusOr<int64_t> IntParam(const proto::EnvSpec& spec, const std::string& key,
                                 int64_t fallback, int64_t lo, int64_t hi);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_ENVIRONMENT_H_

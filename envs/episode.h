// Runs one episode of an environment with a policy: reset, tool rounds, final answer, verdict.
// Synthesis plays reference solutions with it, the pass@k filter plays a model, tests play
// scripted solvers, and `dsarl envs try` plays a person.
//
// An environment failure (a Status error from Reset, Step or Verify) ends the episode as an
// infrastructure error with the reason; it is never scored. Other episodes are unaffected: an
// episode touches only its own state.
#ifndef DSARL_ENVS_EPISODE_H_
#define DSARL_ENVS_EPISODE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envs/environment.h"

namespace dsarl::envs {

// What a policy does next: tool calls (then it is asked again with their results), or, when
// `calls` is empty, the final answer.
struct Action {
  std::vector<ToolCall> calls;
  std::string final_answer;
};

struct Turn {
  std::vector<ToolCall> calls;
  std::vector<ToolResult> results;
};

struct EpisodeRecord {
  Task task;
  std::vector<Turn> turns;
  std::string final_answer;
  Verdict verdict;          // meaningful only when infra_error is empty
  std::string infra_error;  // non-empty: the environment (or the policy) failed, and why
  bool truncated = false;   // hit max_turns before a final answer (then scored on "")
  int num_tool_calls = 0;
  int num_tool_errors = 0;
  bool ok() const { return infra_error.empty(); }
};

// The policy sees the task and the turns so far. A non-OK status ends the episode as an
// infrastructure error (prefixed "policy: ").
using Policy =
    std::function<absl::StatusOr<Action>(const Task& task, const std::vector<Turn>& turns)>;

struct RunOptions {
  int max_turns = 16;  // tool rounds before the episode is cut off
};

EpisodeRecord RunEpisode(const Environment& env, uint64_t seed, int level, const Policy& policy,
                         const RunOptions& options = {});

// Plays the task's reference solution: its rounds in order, then its final answer.
Policy ReferencePolicy();

// Checks a task the way synthesis does (and returns why it fails): the reference solution's calls
// all succeed, it scores 1, the answer appears in the tool outputs when the task says it must, and
// an episode without tool calls scores below 1 when the task says it must. `episode` is a fresh
// Reset(seed, level) of `env`; it is played and closed. Errors: FailedPrecondition (the task is
// bad), or the environment's own errors.
absl::Status CheckTask(const Environment& env, uint64_t seed, int level, Episode episode);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_EPISODE_H_

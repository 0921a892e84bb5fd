// The reward-function interface: what a reward function sees and what it returns.
//
// A reward function sees the task (proto::Prompt: system and user text, tools, the reference data)
// and the whole trajectory as data (Sample: every message with its tool calls, the exact text the
// model wrote, token counts, the finish reason and the environment's verdict). It returns named
// components per sample; a component may say "not applicable" instead of a value. Group-level
// functions see all G samples of a prompt at once.
//
// Why a data view and not the environment or the model: rewards/ knows nothing of envs/ or
// model/ (DESIGN.md). The rollout, which knows both, runs the episode, asks the environment for its
// verdict, parses the model's text, and fills a Sample; every reward function, built-in, plugin
// (plugin_abi.h) or remote (proto/reward.proto), reads only that.
//
// Two kinds of outcome, kept apart on purpose (as in envs/environment.h):
//   * The model's mistakes (no answer, a wrong one, broken markup) are values: a low score, or a
//     component that is not applicable. Never a Status error.
//   * The reward function's own failures (a plugin that failed, a judge that timed out, a task
//     whose reference data contradicts the function's parameters) are Status errors. The composer
//     records them as an infrastructure error on the trajectory, never as a score of 0.
#ifndef DSARL_REWARDS_REWARD_H_
#define DSARL_REWARDS_REWARD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "base/message.h"
#include "proto/data.pb.h"

namespace dsarl::rewards {

// Samples are conversations of the project's one Message, ToolCall and Role (base/message.h).
using ::dsarl::Message;
using ::dsarl::ParseRole;
using ::dsarl::Role;
using ::dsarl::RoleName;
using ::dsarl::ToolCall;

// The environment's verdict on the final answer, as the rollout obtained it.
struct Verdict {
  double score = 0;     // in [0, 1]; 1 means solved
  std::string details;  // why, for people
};

// One trajectory as reward functions see it. The rollout fills it; nothing in it is recomputed.
struct Sample {
  // The conversation in order: the system text (when any), the user message, then the assistant
  // turns with a kTool message per tool result after the turn that called it.
  std::vector<Message> messages;
  // What the episode submitted as its answer (the rollout's choice: usually the visible content of
  // the last assistant turn).
  std::string final_answer;
  int32_t num_generated_tokens = 0;  // every token the policy generated, over all turns
  proto::FinishReason finish_reason = proto::FINISH_REASON_UNSPECIFIED;
  // The environment's verdict; nullopt when the environment has none or it was not asked.
  std::optional<Verdict> verdict;
};

// Number of tool calls in all assistant turns of `sample`.
int CountToolCalls(const Sample& sample);
// Number of kTool messages with is_error set.
int CountToolErrors(const Sample& sample);
// The assistant messages of `sample`, in order.
std::vector<const Message*> AssistantMessages(const Sample& sample);

// `text` in double quotes for a component's details, cut to at most `max_bytes` bytes (at a UTF-8
// character boundary, "..." appended) and with newlines shown as "\n".
std::string Snippet(absl::string_view text, size_t max_bytes = 60);

// One named value for one sample.
//
// Names are local to the function that emits them: "" is the function's own value (the composer
// names it after the config entry, e.g. "format"), any other name is a sub-component that the
// composer logs as "<entry>.<name>" (e.g. "format.think").
struct Component {
  std::string name;
  double value = 0;        // ignored when not applicable
  bool applicable = true;  // false: the function has nothing to say about this sample
  std::string details;     // why, for people; shown in logs and `dsarl rewards test`

  static Component Value(double value, std::string details = "", std::string name = "");
  static Component NotApplicable(std::string details, std::string name = "");
};

// The components of one sample.
using Components = std::vector<Component>;

// A reward function: one configured instance (its parameters were read when it was created).
//
// Thread safety: ScoreGroup may be called concurrently from several threads (a rollout worker
// scores many groups at once); implementations must allow that.
class RewardFunction {
 public:
  virtual ~RewardFunction() = default;

  // Scores the G samples of one prompt. Returns exactly samples.size() Components, in sample
  // order, each with at most one component per name. Returns an error only for the function's
  // own failures (infrastructure errors); the composer then marks every sample of the group.
  virtual absl::StatusOr<std::vector<Components>> ScoreGroup(
      const proto::Prompt& task, absl::Span<const Sample> samples) const = 0;
};

// A function that scores each sample on its own; ScoreGroup calls Score once per sample.
class SampleRewardFunction : public RewardFunction {
 public:
  // Scores one sample. Returns its components; errors as for ScoreGroup.
  virtual absl::StatusOr<Components> Score(const proto::Prompt& task,
                                           const Sample& sample) const = 0;

  // Score for each sample in order; the first error is returned, annotated with the sample index.
  absl::StatusOr<std::vector<Components>> ScoreGroup(const proto::Prompt& task,
                                                     absl::Span<const Sample> samples) const final;
};

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_REWARD_H_

// The agent loop (SPEC §4): episodes of a leased prompt in the chat format, driven through the
// engine. After each assistant turn the model's text is parsed into reasoning, content and tool
// calls (model/tool_call_parser); calls run in the environment and their results are appended as
// context (loss mask 0), and the episode continues until an answer, max_turns or the token budget;
// then the environment verifies the final answer and the configured rewards score the group.
// Token-in, token-out: generated tokens are never re-tokenized; only context is encoded.
// Reasoning stays in context across tool calls (an episode has one user message, so the
// retention rule of SPEC §4 never drops it here).
#ifndef DSARL_ROLLOUT_AGENT_LOOP_H_
#define DSARL_ROLLOUT_AGENT_LOOP_H_

#include <map>
#include <memory>
#include <mutex>

#include "envs/factory.h"
#include "envs/registry.h"
#include "model/tool_call_parser.h"
#include "proto/config.pb.h"
#include "rewards/composer.h"
#include "rewards/reward.h"
#include "rollout/engine.h"
#include "rollout/worker.h"

namespace dsarl::rollout {

struct AgentOptions {
  int group_size = 8;
  int max_turns = 4;
  EngineOptions engine;
  model::AttentionMode mode = model::AttentionMode::kSparse;
  std::string worker_id;
};

AgentOptions AgentOptionsFromConfig(const proto::JobConfig& config);

// One episode: an environment episode plus everything the reward functions will see.
class AgentEpisode : public Episode {
 public:
  // `env` must outlive the episode; `episode` holds the environment's state for this sample.
  AgentEpisode(const envs::Environment* env, envs::Episode episode, const proto::Prompt& prompt,
               int max_turns);
  ~AgentEpisode() override;

  std::optional<std::vector<int>> OnTurnEnd(const EpisodeRecord& record,
                                            const TurnEnd& end) override;
  void OnFinished(const EpisodeRecord& record, proto::FinishReason reason) override;

  const EpisodeRecord& record() const { return record_; }
  const rewards::Sample& sample() const { return sample_; }
  proto::FinishReason finish() const { return finish_; }
  const std::string& infra_error() const { return infra_error_; }
  int tool_calls() const { return tool_calls_; }
  int tool_errors() const { return tool_errors_; }

 private:
  // Context tokens carrying `outputs` as tool results after the turn that ended with `last`.
  std::vector<int> ToolResultTokens(const std::vector<std::string>& outputs, int last) const;

  const envs::Environment* env_;
  envs::Episode episode_;
  int max_turns_;
  int turns_ = 0;
  rewards::Sample sample_;
  EpisodeRecord record_;
  proto::FinishReason finish_ = proto::FINISH_REASON_UNSPECIFIED;
  std::string infra_error_;
  std::string final_answer_;
  int tool_calls_ = 0, tool_errors_ = 0;
};

// The prompt tokens of a task: system text with the tool section, the user message, and
// "<|Assistant|><think>" (chat_format RenderForGeneration). InvalidArgument from the renderer.
absl::StatusOr<std::vector<int>> PromptTokens(const proto::Prompt& prompt);

// Builds a proto::Trajectory from a finished episode (scored by `scored`).
proto::Trajectory ToTrajectory(const AgentEpisode& episode, const rewards::ScoredSample& scored,
                               uint64_t prompt_id, int sample_index, int n_moe_layers,
                               int experts_per_tok);

// The worker's GroupRunner: environments from the factory (built-in, plugin or remote; cached per
// spec), episodes through one engine run per batch of leases, rewards from the composer.
class AgentRunner : public GroupRunner {
 public:
  AgentRunner(envs::EnvFactory* factory, const rewards::Composer* composer, AgentOptions options);
  std::vector<proto::Group> RunGroups(const std::vector<proto::Lease>& leases,
                                      const model::Transformer& policy, int64_t version,
                                      const std::atomic<bool>& stop) override;
  const EngineStats& engine_stats() const { return engine_stats_; }

 private:
  absl::StatusOr<const envs::Environment*> EnvFor(const proto::EnvSpec& spec);
  envs::EnvFactory* factory_;
  const rewards::Composer* composer_;
  AgentOptions options_;
  std::map<uint64_t, std::unique_ptr<envs::Environment>> envs_;
  EngineStats engine_stats_;
};

}  // namespace dsarl::rollout

#endif  // DSARL_ROLLOUT_AGENT_LOOP_H_

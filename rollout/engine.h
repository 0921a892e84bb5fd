// The rollout engine: continuous batching over the model's generator. Many episodes are in flight
// at once (at most max_batch sequences decode together); when one finishes, the next waiting group
// takes its slot at once. The G episodes of a prompt share the prompt's prefill (Generator::Fork).
// A turn stops at end of sequence, at the end of a tool-call block, at the token budget, or at the
// model's context length; the episode (e.g. the agent loop) then appends context (tool results)
// and continues, or ends. For every token the engine records: the loss mask (1 = generated), the
// behaviour log-prob under the truncated distribution actually sampled from, the kept set, the
// routed experts (every position, context included) and the policy version.
#ifndef DSARL_ROLLOUT_ENGINE_H_
#define DSARL_ROLLOUT_ENGINE_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "model/generator.h"
#include "model/sampler.h"
#include "model/transformer.h"
#include "proto/data.pb.h"

namespace dsarl::rollout {

// Everything recorded about one episode, token-in token-out.
struct EpisodeRecord {
  std::vector<int> tokens;
  std::vector<int> loss_mask;
  std::vector<float> behaviour_logprobs;
  std::vector<std::vector<int>> kept;  // per token; empty = no truncation (or context)
  std::vector<int> routed_experts;     // [tokens, n_moe_layers, experts_per_tok]
  std::vector<int64_t> versions;       // policy version per token (0 for context)
  int generated = 0;                   // policy tokens so far, all turns
  int turns = 0;
};

struct TurnEnd {
  proto::FinishReason reason = proto::FINISH_EOS;  // EOS (also end of tool calls), MAX_TOKENS,
                                                   // CONTEXT
  bool tool_call_block = false;                    // the turn ended with </function_calls>
  int first_token = 0;                             // index in the record where this turn began
};

// One episode's decisions; implemented by the agent loop (or a test).
class Episode {
 public:
  virtual ~Episode() = default;
  // Called when a turn ends. Return tokens to append as context (loss mask 0) to continue
  // generating, or nullopt to finish the episode. `record` is the episode so far.
  virtual std::optional<std::vector<int>> OnTurnEnd(const EpisodeRecord& record,
                                                    const TurnEnd& end) = 0;
  // Called once, after the last turn.
  virtual void OnFinished(const EpisodeRecord& record, proto::FinishReason reason) = 0;
};

// A prompt and the G episodes that sample from it.
struct GroupRequest {
  std::vector<int> prompt;
  std::vector<Episode*> episodes;  // not owned
  uint64_t seed = 0;               // episode i samples from Rng::ForStream(seed, i)
};

struct EngineOptions {
  int max_batch = 64;        // sequences decoding together
  int max_new_tokens = 256;  // policy tokens per episode, all turns together
  model::SamplingParams sampling;
  std::vector<int> stop_tokens;  // default: <eos> and </function_calls>
  int64_t policy_version = 0;
};

struct EngineStats {
  int64_t episodes = 0, generated_tokens = 0, context_tokens = 0, decode_steps = 0;
  double seconds = 0;
};

class Engine {
 public:
  // `model` must outlive the engine; its weights may change between Run calls (set the version).
  Engine(const model::Transformer* model, model::AttentionMode mode, EngineOptions options);

  void set_policy_version(int64_t v) { options_.policy_version = v; }

  // Runs every episode of every group to completion. Groups start in order as slots free up.
  // Returns an error only for a model failure (e.g. an out-of-vocabulary context token from an
  // episode), after which the remaining episodes are finished with FINISH_INFRA_ERROR.
  absl::Status Run(const std::vector<GroupRequest>& groups);

  const EngineStats& stats() const { return stats_; }

 private:
  struct Live;   // one episode in flight
  struct Batch;  // one Run's state: the generator, the waiting groups, the episodes in flight

  // Starts waiting groups, in order, while all of the next group's episodes fit beside those in
  // flight (max_batch; a group always starts when nothing is in flight). A group whose prefill
  // fails has its episodes finished with FINISH_INFRA_ERROR and its error kept in the batch.
  void Admit(const std::vector<GroupRequest>& groups, Batch* b);
  // Prefills the group's prompt once and forks it for each of its episodes. Returns the prefill's
  // error, "prefill: "-prefixed.
  absl::Status StartGroup(const GroupRequest& req, Batch* b);
  // Samples the next token of every episode not feeding context this step; at a stop token, the
  // token budget or the context length, ends the turn (EndTurn).
  void SampleAll(Batch* b);
  // Asks the episode for more context when `may_continue`; queues it to be fed with the last token,
  // or finishes the episode (nothing more, or more than the context length holds).
  void EndTurn(Live* l, int token, proto::FinishReason reason, bool may_continue, Batch* b);
  // One batched generator step feeding every episode's pending tokens; records the fed rows'
  // routing and each episode's next logits. On a model error finishes every episode in flight.
  void StepAll(Batch* b);
  // Releases the episode's sequence and reports it finished.
  void Finish(Live* l, proto::FinishReason reason, Batch* b);

  const model::Transformer* model_;
  model::AttentionMode mode_;
  EngineOptions options_;
  EngineStats stats_;
};

}  // namespace dsarl::rollout

#endif  // DSARL_ROLLOUT_ENGINE_H_

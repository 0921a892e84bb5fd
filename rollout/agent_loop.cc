#include "rollout/agent_loop.h"

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/message.h"
#include "base/utf8.h"
#include "model/chat_format.h"
#include "model/tokenizer.h"

namespace dsarl::rollout {

AgentOptions AgentOptionsFromConfig(const proto::JobConfig& c) {
  AgentOptions o;
  o.group_size = c.rollout().group_size();
  o.max_turns = c.rollout().max_turns();
  o.engine.max_batch = c.rollout().max_batch();
  o.engine.max_new_tokens = c.rollout().max_new_tokens();
  o.engine.sampling.temperature = c.rollout().temperature();
  o.engine.sampling.top_k = c.rollout().top_k();
  o.engine.sampling.top_p = c.rollout().top_p();
  o.mode = c.model().attention_mode() == proto::ModelConfig::DENSE ? model::AttentionMode::kDense
                                                                   : model::AttentionMode::kSparse;
  return o;
}

absl::StatusOr<std::vector<int>> PromptTokens(const proto::Prompt& p) {
  model::Conversation conv;
  conv.system = p.system();
  conv.tools.assign(p.tools().begin(), p.tools().end());
  conv.messages.push_back(Message::User(p.user()));
  auto r = model::RenderForGeneration(conv);
  if (!r.ok()) return r.status();
  return std::vector<int>(r->ids.begin(), r->ids.end());
}

AgentEpisode::AgentEpisode(const envs::Environment* env, envs::Episode episode,
                           const proto::Prompt& prompt, int max_turns)
    : env_(env), episode_(std::move(episode)), max_turns_(max_turns) {
  if (!prompt.system().empty()) sample_.messages.push_back(Message::System(prompt.system()));
  sample_.messages.push_back(Message::User(prompt.user()));
}

AgentEpisode::~AgentEpisode() {
  if (env_ != nullptr && episode_.state) env_->Close(episode_.state.get());
}

std::vector<int> AgentEpisode::ToolResultTokens(const std::vector<std::string>& outputs,
                                                int last) const {
  // AppendToolResults renders after a turn's "<eos>"; a turn stopped at "</function_calls>" gets
  // its "<eos>" as context first.
  model::RenderedTokens rt;
  rt.Append(model::kEosId, 0);
  if (!model::AppendToolResults(outputs, &rt).ok()) return {};
  return std::vector<int>(rt.ids.begin() + (last == model::kEosId ? 1 : 0), rt.ids.end());
}

std::optional<std::vector<int>> AgentEpisode::OnTurnEnd(const EpisodeRecord& record,
                                                        const TurnEnd& end) {
  ++turns_;
  model::Tokenizer tok;
  std::vector<int32_t> turn(record.tokens.begin() + end.first_token, record.tokens.end());
  const std::string text = tok.Decode(turn);
  // A turn after tool results also starts inside "<think>" (the context ends with it).
  model::ParsedAssistantOutput parsed = model::ParseAssistantOutput(text);
  Message msg = Message::Assistant(parsed.reasoning, parsed.content, parsed.tool_calls);
  msg.raw_text = text;
  msg.num_tokens = 0;
  for (size_t i = end.first_token; i < record.tokens.size(); ++i)
    msg.num_tokens += record.loss_mask[i];
  if (parsed.error) msg.parse_error = parsed.error->message;
  sample_.messages.push_back(msg);
  final_answer_ = parsed.content;
  if (end.reason != proto::FINISH_EOS) return std::nullopt;  // budget or context: no more turns
  const bool has_tools = !episode_.task.tools.empty();
  const bool more_turns = turns_ < max_turns_;
  std::vector<std::string> outputs;
  if (parsed.error && has_tools) {
    // A malformed call is the model's mistake: it gets an error observation, not a crash.
    if (!more_turns) return std::nullopt;
    const std::string obs = absl::StrCat("error: malformed tool call: ", parsed.error->message);
    sample_.messages.push_back(Message::Tool(obs, /*is_error=*/true));
    ++tool_errors_;
    return ToolResultTokens({obs}, record.tokens.back());
  }
  if (parsed.tool_calls.empty()) return std::nullopt;  // an answer
  if (!has_tools || !more_turns) return std::nullopt;
  tool_calls_ += parsed.tool_calls.size();
  auto step = env_->Step(episode_.state.get(), parsed.tool_calls);
  if (!step.ok()) {
    infra_error_ = absl::StrCat("environment ", env_->spec().id(), " (", env_->spec().category(),
                                ") Step: ", step.status().ToString());
    return std::nullopt;
  }
  for (const envs::ToolResult& r : step->results) {
    outputs.push_back(r.output);
    tool_errors_ += r.is_error;
    sample_.messages.push_back(Message::Tool(r.output, r.is_error));
  }
  if (step->done) return std::nullopt;
  return ToolResultTokens(outputs, record.tokens.back());
}

void AgentEpisode::OnFinished(const EpisodeRecord& record, proto::FinishReason reason) {
  record_ = record;
  finish_ = infra_error_.empty() ? reason : proto::FINISH_INFRA_ERROR;
  if (turns_ >= max_turns_ && reason == proto::FINISH_EOS && !sample_.messages.empty() &&
      !sample_.messages.back().tool_calls.empty()) {
    finish_ = proto::FINISH_MAX_TURNS;
  }
  sample_.final_answer = final_answer_;
  sample_.num_generated_tokens = record.generated;
  sample_.finish_reason = finish_;
  if (!infra_error_.empty() || reason == proto::FINISH_INFRA_ERROR) {
    if (infra_error_.empty()) infra_error_ = "generation failed";
    return;
  }
  auto v = env_->Verify(*episode_.state, final_answer_);
  if (!v.ok()) {
    infra_error_ = absl::StrCat("environment ", env_->spec().id(), " (", env_->spec().category(),
                                ") Verify: ", v.status().ToString());
    finish_ = proto::FINISH_INFRA_ERROR;
    sample_.finish_reason = finish_;
    return;
  }
  sample_.verdict = rewards::Verdict{v->score, v->details};
}

proto::Trajectory ToTrajectory(const AgentEpisode& e, const rewards::ScoredSample& scored,
                               uint64_t prompt_id, int sample_index, int M, int K) {
  proto::Trajectory t;
  const EpisodeRecord& r = e.record();
  t.set_prompt_id(prompt_id);
  t.set_sample_index(sample_index);
  t.mutable_token_ids()->Add(r.tokens.begin(), r.tokens.end());
  t.mutable_loss_mask()->Add(r.loss_mask.begin(), r.loss_mask.end());
  t.mutable_behaviour_logprobs()->Add(r.behaviour_logprobs.begin(), r.behaviour_logprobs.end());
  t.mutable_policy_versions()->Add(r.versions.begin(), r.versions.end());
  bool any_kept = false;
  for (const auto& k : r.kept) any_kept |= !k.empty();
  if (any_kept) {
    for (const auto& k : r.kept) t.add_kept_sets()->mutable_ids()->Add(k.begin(), k.end());
  }
  if (M > 0) {
    for (size_t i = 0; i + K <= r.routed_experts.size(); i += K) {
      t.add_routed_experts()->mutable_experts()->Add(r.routed_experts.begin() + i,
                                                     r.routed_experts.begin() + i + K);
    }
  }
  rewards::ApplyToTrajectory(scored, &t);
  // Details quote the model's text, which may be any bytes; proto3 strings must be UTF-8 or the
  // learner cannot parse the group.
  for (auto& c : *t.mutable_reward_components()) c.set_details(SanitizeUtf8(c.details()));
  t.set_infra_error(SanitizeUtf8(t.infra_error()));
  t.set_finish_reason(e.finish() == proto::FINISH_INFRA_ERROR || !scored.infra_error.empty()
                          ? proto::FINISH_INFRA_ERROR
                          : e.finish());
  if (!e.infra_error().empty()) t.set_infra_error(SanitizeUtf8(e.infra_error()));
  t.set_num_turns(r.turns);
  t.set_num_tool_calls(e.tool_calls());
  t.set_num_tool_errors(e.tool_errors());
  return t;
}

AgentRunner::AgentRunner(envs::EnvFactory* factory, const rewards::Composer* composer,
                         AgentOptions options)
    : factory_(factory), composer_(composer), options_(std::move(options)) {}

absl::StatusOr<const envs::Environment*> AgentRunner::EnvFor(const proto::EnvSpec& spec) {
  auto it = envs_.find(spec.id());
  if (it != envs_.end()) return it->second.get();
  auto env = factory_->Make(spec);
  if (!env.ok()) return env.status();
  const envs::Environment* raw = env->get();
  envs_[spec.id()] = std::move(*env);
  return raw;
}

std::vector<proto::Group> AgentRunner::RunGroups(const std::vector<proto::Lease>& leases,
                                                 const model::Transformer& policy, int64_t version,
                                                 const std::atomic<bool>& stop) {
  const int G = options_.group_size;
  struct Pending {
    const proto::Lease* lease;
    std::vector<std::unique_ptr<AgentEpisode>> episodes;
    std::string infra_error;  // the whole group failed before generation
  };
  std::vector<Pending> pending;
  std::vector<GroupRequest> requests;
  for (const proto::Lease& l : leases) {
    if (stop.load()) break;
    Pending p{&l, {}, ""};
    auto env = EnvFor(l.env());
    auto tokens = PromptTokens(l.prompt());
    if (!env.ok() || !tokens.ok()) {
      p.infra_error = !env.ok() ? env.status().ToString() : tokens.status().ToString();
    } else {
      for (int i = 0; i < G; ++i) {
        auto ep = (*env)->Reset(l.prompt().task_seed(), l.prompt().difficulty());
        if (!ep.ok()) {
          p.infra_error = absl::StrCat("environment Reset: ", ep.status().ToString());
          break;
        }
        p.episodes.push_back(
            std::make_unique<AgentEpisode>(*env, std::move(*ep), l.prompt(), options_.max_turns));
      }
    }
    pending.push_back(std::move(p));
  }
  for (Pending& p : pending) {
    if (!p.infra_error.empty()) continue;
    GroupRequest req;
    req.prompt = *PromptTokens(p.lease->prompt());
    req.seed = p.lease->prompt().id() * 1000003ull + p.lease->attempt();
    for (auto& e : p.episodes) req.episodes.push_back(e.get());
    requests.push_back(std::move(req));
  }
  EngineOptions eo = options_.engine;
  eo.policy_version = version;
  Engine engine(&policy, options_.mode, eo);
  if (absl::Status s = engine.Run(requests); !s.ok()) {
    DSARL_LOG_ERROR("agent loop: {}", std::string(s.message()));
  }
  engine_stats_.episodes += engine.stats().episodes;
  engine_stats_.generated_tokens += engine.stats().generated_tokens;
  engine_stats_.context_tokens += engine.stats().context_tokens;
  engine_stats_.decode_steps += engine.stats().decode_steps;
  engine_stats_.seconds += engine.stats().seconds;
  const int M = policy.dims().n_moe_layers(), K = policy.dims().experts_per_tok;
  std::vector<proto::Group> out;
  for (Pending& p : pending) {
    proto::Group g;
    g.set_prompt_id(p.lease->prompt().id());
    g.set_attempt(p.lease->attempt());
    g.set_worker_id(options_.worker_id);
    if (!p.infra_error.empty()) {
      // Nothing to train on; the group is still reported (one trajectory per sample, marked).
      for (int i = 0; i < G; ++i) {
        proto::Trajectory* t = g.add_trajectories();
        t->set_prompt_id(g.prompt_id());
        t->set_sample_index(i);
        t->set_finish_reason(proto::FINISH_INFRA_ERROR);
        t->set_infra_error(p.infra_error);
      }
      out.push_back(std::move(g));
      continue;
    }
    std::vector<rewards::Sample> samples;
    for (const auto& e : p.episodes) samples.push_back(e->sample());
    std::vector<rewards::ScoredSample> scored = composer_->ScoreGroup(p.lease->prompt(), samples);
    for (size_t i = 0; i < p.episodes.size(); ++i) {
      *g.add_trajectories() = ToTrajectory(*p.episodes[i], scored[i], g.prompt_id(), i, M, K);
    }
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace dsarl::rollout

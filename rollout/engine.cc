#include "rollout/engine.h"

#include <algorithm>
#include <chrono>
#include <deque>

#include "absl/strings/str_cat.h"
#include "model/tokenizer.h"

namespace dsarl::rollout {

using model::Generator;

struct Engine::Live {
  Episode* episode = nullptr;
  EpisodeRecord record;
  Generator::SeqId seq = -1;
  model::Rng rng{0};
  std::vector<float> logits;  // next-token logits
  std::vector<int> pending;   // tokens to feed at the next step (context or the last sample)
  bool pending_is_context = false;
  int turn_start = 0;
  bool done = false;
};

// One Run's state: the generator, the groups not started yet, the episodes in flight.
struct Engine::Batch {
  Batch(const model::Transformer* model, model::AttentionMode mode) : gen(model, mode) {}
  Generator gen;
  std::deque<size_t> waiting;  // indices into the groups, in order
  std::vector<std::unique_ptr<Live>> live;
  absl::Status failure;  // the first model failure, if any
};

Engine::Engine(const model::Transformer* model, model::AttentionMode mode, EngineOptions options)
    : model_(model), mode_(mode), options_(std::move(options)) {
  if (options_.stop_tokens.empty()) {
    options_.stop_tokens = {model::kEosId, model::kEndFunctionCallsId};
  }
}

namespace {

// Context tokens (prompt or tool results): loss mask 0, no behaviour log-prob, version 0.
void AppendContext(EpisodeRecord* r, const std::vector<int>& toks,
                   const std::vector<int>& experts) {
  for (size_t i = 0; i < toks.size(); ++i) {
    r->tokens.push_back(toks[i]);
    r->loss_mask.push_back(0);
    r->behaviour_logprobs.push_back(0.0f);
    r->kept.emplace_back();
    r->versions.push_back(0);
  }
  r->routed_experts.insert(r->routed_experts.end(), experts.begin(), experts.end());
}

// A sampled token: loss mask 1, with what the learner needs to score it as it was sampled.
void AppendSampled(EpisodeRecord* r, const model::SampleResult& smp, int64_t version) {
  r->tokens.push_back(smp.token);
  r->loss_mask.push_back(1);
  r->behaviour_logprobs.push_back(smp.logprob);
  r->kept.push_back(std::vector<int>(smp.kept.begin(), smp.kept.end()));
  r->versions.push_back(version);
  ++r->generated;
}

}  // namespace

absl::Status Engine::Run(const std::vector<GroupRequest>& groups) {
  const auto start = std::chrono::steady_clock::now();
  Batch b(model_,
          mode_ == model::AttentionMode::kDenseWarmup ? model::AttentionMode::kDense : mode_);
  for (size_t g = 0; g < groups.size(); ++g) b.waiting.push_back(g);
  while (true) {
    Admit(groups, &b);
    if (b.live.empty()) break;
    SampleAll(&b);
    b.live.erase(
        std::remove_if(b.live.begin(), b.live.end(), [](const auto& l) { return l->done; }),
        b.live.end());
    if (b.live.empty()) continue;
    StepAll(&b);
  }
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return b.failure;
}

void Engine::Admit(const std::vector<GroupRequest>& groups, Batch* b) {
  // Whole groups only: a group's episodes start together to share the prefill.
  while (!b->waiting.empty()) {
    const size_t active = b->live.size();
    const size_t need = groups[b->waiting.front()].episodes.size();
    if (active > 0 && active + need > size_t(options_.max_batch)) break;
    const GroupRequest& req = groups[b->waiting.front()];
    b->waiting.pop_front();
    if (absl::Status s = StartGroup(req, b); !s.ok()) b->failure.Update(s);
  }
}

absl::Status Engine::StartGroup(const GroupRequest& req, Batch* b) {
  if (req.episodes.empty()) return absl::OkStatus();
  Generator::SeqId root = b->gen.NewSequence();
  auto r = b->gen.Step({root}, {req.prompt});
  if (!r.ok()) {
    b->gen.Release(root);
    for (Episode* e : req.episodes) e->OnFinished(EpisodeRecord{}, proto::FINISH_INFRA_ERROR);
    return absl::Status(r.status().code(), absl::StrCat("prefill: ", r.status().message()));
  }
  stats_.context_tokens += req.prompt.size();
  for (size_t i = 0; i < req.episodes.size(); ++i) {
    auto l = std::make_unique<Live>();
    l->episode = req.episodes[i];
    l->seq = i == 0 ? root : *b->gen.Fork(root);
    l->rng = model::Rng::ForStream(req.seed, i);
    l->logits = r->logits;
    AppendContext(&l->record, req.prompt, r->routed_experts);
    l->record.turns = 1;
    l->turn_start = req.prompt.size();
    b->live.push_back(std::move(l));
  }
  return absl::OkStatus();
}

void Engine::SampleAll(Batch* b) {
  const int V = model_->dims().vocab;
  for (auto& lp : b->live) {
    Live* l = lp.get();
    if (!l->pending.empty()) continue;  // feeding context this step
    auto smp = model::Sample(absl::MakeConstSpan(l->logits.data(), V), options_.sampling, &l->rng);
    if (!smp.ok()) {
      b->failure.Update(smp.status());
      Finish(l, proto::FINISH_INFRA_ERROR, b);
      continue;
    }
    AppendSampled(&l->record, *smp, options_.policy_version);
    ++stats_.generated_tokens;
    const bool stop = std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(),
                                smp->token) != options_.stop_tokens.end();
    const bool budget = l->record.generated >= options_.max_new_tokens;
    const bool context = int(l->record.tokens.size()) >= model_->dims().max_pos;
    if (stop || budget || context) {
      const proto::FinishReason reason =
          stop ? proto::FINISH_EOS : (budget ? proto::FINISH_MAX_TOKENS : proto::FINISH_CONTEXT);
      EndTurn(l, smp->token, reason, /*may_continue=*/!budget && !context, b);
      continue;
    }
    l->pending = {smp->token};
  }
}

void Engine::EndTurn(Live* l, int token, proto::FinishReason reason, bool may_continue, Batch* b) {
  const model::ModelDims& d = model_->dims();
  EpisodeRecord& rec = l->record;
  TurnEnd end;
  end.reason = reason;
  end.tool_call_block = token == model::kEndFunctionCallsId;
  end.first_token = l->turn_start;
  // Out of budget or context, the episode is told the turn ended but cannot continue.
  std::optional<std::vector<int>> more;
  if (may_continue) {
    more = l->episode->OnTurnEnd(rec, end);
  } else {
    l->episode->OnTurnEnd(rec, end);
  }
  if (!more.has_value() || more->empty() || int(rec.tokens.size() + more->size()) >= d.max_pos) {
    // The last token is never fed, so it has no recorded routing; nothing is predicted from it,
    // so the learner's forced routing there is irrelevant. Use experts 0..k-1.
    const int routed = d.n_moe_layers() * d.experts_per_tok;
    for (int j = 0; j < routed; ++j) rec.routed_experts.push_back(j % d.experts_per_tok);
    Finish(l, more.has_value() && !more->empty() ? proto::FINISH_CONTEXT : end.reason, b);
    return;
  }
  // Feed the sampled token and the context together at the next step.
  l->pending = {token};
  l->pending.insert(l->pending.end(), more->begin(), more->end());
  l->pending_is_context = true;
  ++rec.turns;
}

void Engine::StepAll(Batch* b) {
  const model::ModelDims& d = model_->dims();
  const int routed = d.n_moe_layers() * d.experts_per_tok;
  const int V = d.vocab;
  std::vector<Generator::SeqId> ids;
  std::vector<std::vector<int>> feed;
  for (auto& l : b->live) {
    ids.push_back(l->seq);
    feed.push_back(l->pending);
  }
  auto r = b->gen.Step(ids, feed);
  ++stats_.decode_steps;
  if (!r.ok()) {
    b->failure.Update(
        absl::Status(r.status().code(), absl::StrCat("decode: ", r.status().message())));
    for (auto& l : b->live) Finish(l.get(), proto::FINISH_INFRA_ERROR, b);
    b->live.clear();
    return;
  }
  size_t row = 0;
  for (size_t i = 0; i < b->live.size(); ++i) {
    Live* l = b->live[i].get();
    EpisodeRecord& rec = l->record;
    const size_t n = l->pending.size();
    // Routed experts for the fed rows: the sampled token's, then the context's.
    std::vector<int> experts(r->routed_experts.begin() + row * routed,
                             r->routed_experts.begin() + (row + n) * routed);
    rec.routed_experts.insert(rec.routed_experts.end(), experts.begin(), experts.begin() + routed);
    if (l->pending_is_context) {
      std::vector<int> ctx(l->pending.begin() + 1, l->pending.end());
      AppendContext(&rec, ctx, std::vector<int>(experts.begin() + routed, experts.end()));
      stats_.context_tokens += ctx.size();
      l->turn_start = rec.tokens.size();
    }
    row += n;
    l->logits.assign(r->logits.begin() + i * V, r->logits.begin() + (i + 1) * V);
    l->pending.clear();
    l->pending_is_context = false;
  }
}

void Engine::Finish(Live* l, proto::FinishReason reason, Batch* b) {
  l->done = true;
  b->gen.Release(l->seq);
  ++stats_.episodes;
  l->episode->OnFinished(l->record, reason);
}

}  // namespace dsarl::rollout

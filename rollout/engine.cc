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
  std::vector<float> logits;       // next-token logits
  std::vector<int> pending;        // tokens to feed at the next step (context or the last sample)
  bool pending_is_context = false;
  int turn_start = 0;
  bool done = false;
};

Engine::Engine(const model::Transformer* model, model::AttentionMode mode, EngineOptions options)
    : model_(model), mode_(mode), options_(std::move(options)) {
  if (options_.stop_tokens.empty()) {
    options_.stop_tokens = {model::kEosId, model::kEndFunctionCallsId};
  }
}

absl::Status Engine::Run(const std::vector<GroupRequest>& groups) {
  const auto start = std::chrono::steady_clock::now();
  const model::ModelDims& d = model_->dims();
  const int routed = d.n_moe_layers() * d.experts_per_tok;
  const int V = d.vocab;
  Generator gen(model_, mode_ == model::AttentionMode::kDenseWarmup ? model::AttentionMode::kDense
                                                                     : mode_);
  std::deque<size_t> waiting;
  for (size_t g = 0; g < groups.size(); ++g) waiting.push_back(g);
  std::vector<std::unique_ptr<Live>> live;
  absl::Status failure;

  auto finish = [&](Live* l, proto::FinishReason reason) {
    l->done = true;
    gen.Release(l->seq);
    ++stats_.episodes;
    l->episode->OnFinished(l->record, reason);
  };
  auto append_context = [&](EpisodeRecord* r, const std::vector<int>& toks,
                            const std::vector<int>& experts) {
    for (size_t i = 0; i < toks.size(); ++i) {
      r->tokens.push_back(toks[i]);
      r->loss_mask.push_back(0);
      r->behaviour_logprobs.push_back(0.0f);
      r->kept.emplace_back();
      r->versions.push_back(0);
    }
    r->routed_experts.insert(r->routed_experts.end(), experts.begin(), experts.end());
  };

  // Starts the next waiting group: one prefill, G forks.
  auto start_group = [&]() -> absl::Status {
    const GroupRequest& req = groups[waiting.front()];
    waiting.pop_front();
    if (req.episodes.empty()) return absl::OkStatus();
    Generator::SeqId root = gen.NewSequence();
    auto r = gen.Step({root}, {req.prompt});
    if (!r.ok()) {
      gen.Release(root);
      for (Episode* e : req.episodes) e->OnFinished(EpisodeRecord{}, proto::FINISH_INFRA_ERROR);
      return absl::Status(r.status().code(), absl::StrCat("prefill: ", r.status().message()));
    }
    stats_.context_tokens += req.prompt.size();
    for (size_t i = 0; i < req.episodes.size(); ++i) {
      auto l = std::make_unique<Live>();
      l->episode = req.episodes[i];
      l->seq = i == 0 ? root : *gen.Fork(root);
      l->rng = model::Rng::ForStream(req.seed, i);
      l->logits = r->logits;
      append_context(&l->record, req.prompt, r->routed_experts);
      l->record.turns = 1;
      l->turn_start = req.prompt.size();
      live.push_back(std::move(l));
    }
    return absl::OkStatus();
  };

  while (true) {
    // Fill free slots with whole groups (a group's episodes start together to share the prefill).
    while (!waiting.empty()) {
      const size_t active = live.size();
      const size_t need = groups[waiting.front()].episodes.size();
      if (active > 0 && active + need > size_t(options_.max_batch)) break;
      if (absl::Status s = start_group(); !s.ok()) failure.Update(s);
    }
    if (live.empty()) break;
    // Sample the next token of every episode that is generating.
    for (auto& lp : live) {
      Live* l = lp.get();
      if (!l->pending.empty()) continue;  // feeding context this step
      auto smp = model::Sample(absl::MakeConstSpan(l->logits.data(), V), options_.sampling, &l->rng);
      if (!smp.ok()) {
        failure.Update(smp.status());
        finish(l, proto::FINISH_INFRA_ERROR);
        continue;
      }
      EpisodeRecord& rec = l->record;
      rec.tokens.push_back(smp->token);
      rec.loss_mask.push_back(1);
      rec.behaviour_logprobs.push_back(smp->logprob);
      rec.kept.push_back(std::vector<int>(smp->kept.begin(), smp->kept.end()));
      rec.versions.push_back(options_.policy_version);
      ++rec.generated;
      ++stats_.generated_tokens;
      const bool stop = std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(),
                                  smp->token) != options_.stop_tokens.end();
      const bool budget = rec.generated >= options_.max_new_tokens;
      const bool context = int(rec.tokens.size()) >= d.max_pos;
      if (stop || budget || context) {
        TurnEnd end;
        end.reason = stop ? proto::FINISH_EOS
                          : (budget ? proto::FINISH_MAX_TOKENS : proto::FINISH_CONTEXT);
        end.tool_call_block = smp->token == model::kEndFunctionCallsId;
        end.first_token = l->turn_start;
        std::optional<std::vector<int>> more;
        if (!budget && !context) more = l->episode->OnTurnEnd(rec, end);
        else l->episode->OnTurnEnd(rec, end);
        if (!more.has_value() || more->empty() ||
            int(rec.tokens.size() + more->size()) >= d.max_pos) {
          // The last token is never fed, so it has no recorded routing; nothing is predicted
          // from it, so the learner's forced routing there is irrelevant. Use experts 0..k-1.
          for (int j = 0; j < routed; ++j) rec.routed_experts.push_back(j % d.experts_per_tok);
          finish(l, more.has_value() && !more->empty() ? proto::FINISH_CONTEXT : end.reason);
          continue;
        }
        // Feed the sampled token and the context together at the next step.
        l->pending = {smp->token};
        l->pending.insert(l->pending.end(), more->begin(), more->end());
        l->pending_is_context = true;
        ++rec.turns;
        continue;
      }
      l->pending = {smp->token};
    }
    live.erase(std::remove_if(live.begin(), live.end(), [](const auto& l) { return l->done; }),
               live.end());
    if (live.empty()) continue;
    // One batched step for everything in flight.
    std::vector<Generator::SeqId> ids;
    std::vector<std::vector<int>> feed;
    for (auto& l : live) {
      ids.push_back(l->seq);
      feed.push_back(l->pending);
    }
    auto r = gen.Step(ids, feed);
    ++stats_.decode_steps;
    if (!r.ok()) {
      failure.Update(absl::Status(r.status().code(), absl::StrCat("decode: ", r.status().message())));
      for (auto& l : live) finish(l.get(), proto::FINISH_INFRA_ERROR);
      live.clear();
      continue;
    }
    size_t row = 0;
    for (size_t i = 0; i < live.size(); ++i) {
      Live* l = live[i].get();
      EpisodeRecord& rec = l->record;
      const size_t n = l->pending.size();
      // Routed experts for the fed rows: the sampled token's, then the context's.
      std::vector<int> experts(r->routed_experts.begin() + row * routed,
                               r->routed_experts.begin() + (row + n) * routed);
      rec.routed_experts.insert(rec.routed_experts.end(), experts.begin(),
                                experts.begin() + routed);
      if (l->pending_is_context) {
        std::vector<int> ctx(l->pending.begin() + 1, l->pending.end());
        append_context(&rec, ctx, std::vector<int>(experts.begin() + routed, experts.end()));
        stats_.context_tokens += ctx.size();
        l->turn_start = rec.tokens.size();
      }
      row += n;
      l->logits.assign(r->logits.begin() + i * V, r->logits.begin() + (i + 1) * V);
      l->pending.clear();
      l->pending_is_context = false;
    }
  }
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return failure;
}

}  // namespace dsarl::rollout

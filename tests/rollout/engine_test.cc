// The engine: same seed, same trajectories; batched continuous generation equals generating one
// episode at a time; multi-turn context is recorded with loss mask 0; budgets are respected.
#include "rollout/engine.h"

#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "tests/model/model_test_util.h"
#include "tests/status_matchers.h"

namespace dsarl::rollout {
namespace {

using model::AttentionMode;

// Records what it is given; optionally appends a fixed context after the first turn.
class ScriptedEpisode : public Episode {
 public:
  explicit ScriptedEpisode(std::vector<int> context = {}) : context_(std::move(context)) {}
  std::optional<std::vector<int>> OnTurnEnd(const EpisodeRecord&, const TurnEnd& end) override {
    ends.push_back(end);
    if (!context_.empty() && ends.size() == 1) return context_;
    return std::nullopt;
  }
  void OnFinished(const EpisodeRecord& r, proto::FinishReason reason) override {
    record = r;
    finish = reason;
    finished = true;
  }
  EpisodeRecord record;
  proto::FinishReason finish = proto::FINISH_REASON_UNSPECIFIED;
  std::vector<TurnEnd> ends;
  bool finished = false;

 private:
  std::vector<int> context_;
};

model::ModelDims EngineDims() {
  model::ModelDims d = model::testing::TinyTestDims(true, AttentionMode::kSparse);
  d.max_pos = 64;
  return d;
}

struct TinyMoe {
  model::ModelDims d = EngineDims();
  model::Transformer m{d};
  TinyMoe() { m.InitRandom(4); }
};

std::vector<std::vector<int>> Prompts() {
  return {{model::kBosId, 'a', 'b'}, {model::kBosId, 'x', 'y', 'z', 'w', 'v', 'u', 't'},
          {model::kBosId, '1'}};
}

// Runs G episodes per prompt through the engine; returns the records.
std::vector<EpisodeRecord> RunEngine(const model::Transformer& m, int G, int max_batch,
                                     int max_new, uint64_t seed) {
  EngineOptions o;
  o.max_batch = max_batch;
  o.max_new_tokens = max_new;
  o.sampling.top_k = 50;
  o.stop_tokens = {model::kEosId};
  Engine engine(&m, AttentionMode::kSparse, o);
  std::vector<std::unique_ptr<ScriptedEpisode>> eps;
  std::vector<GroupRequest> groups;
  for (const auto& p : Prompts()) {
    GroupRequest g;
    g.prompt = p;
    g.seed = seed + groups.size();
    for (int i = 0; i < G; ++i) {
      eps.push_back(std::make_unique<ScriptedEpisode>());
      g.episodes.push_back(eps.back().get());
    }
    groups.push_back(g);
  }
  EXPECT_OK(engine.Run(groups));
  std::vector<EpisodeRecord> out;
  for (auto& e : eps) {
    EXPECT_TRUE(e->finished);
    out.push_back(e->record);
  }
  return out;
}

TEST(Engine, SameSeedSameTrajectories) {
  TinyMoe s;
  auto a = RunEngine(s.m, 4, 64, 12, 7);
  auto b = RunEngine(s.m, 4, 64, 12, 7);
  auto c = RunEngine(s.m, 4, 64, 12, 8);
  bool any_diff = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    EXPECT_EQ(a[i].behaviour_logprobs, b[i].behaviour_logprobs);
    EXPECT_EQ(a[i].routed_experts, b[i].routed_experts);
    any_diff |= a[i].tokens != c[i].tokens;
  }
  EXPECT_TRUE(any_diff);
}

TEST(Engine, BatchedEqualsOneEpisodeAtATime) {
  TinyMoe s;
  const int G = 4, max_new = 12;
  auto batched = RunEngine(s.m, G, 5, max_new, 11);  // 5 slots: groups queue and refill
  const int V = s.d.vocab;
  int k = 0;
  for (size_t p = 0; p < Prompts().size(); ++p) {
    for (int i = 0; i < G; ++i, ++k) {
      model::Generator gen(&s.m, AttentionMode::kSparse);
      auto seq = gen.NewSequence();
      ASSERT_OK_AND_ASSIGN(auto r, gen.Step({seq}, {Prompts()[p]}));
      model::Rng rng = model::Rng::ForStream(11 + p, i);
      std::vector<int> toks = Prompts()[p];
      model::SamplingParams sp;
      sp.top_k = 50;
      for (int t = 0; t < max_new; ++t) {
        ASSERT_OK_AND_ASSIGN(auto smp, model::Sample(absl::MakeConstSpan(r.logits.data(), V), sp, &rng));
        toks.push_back(smp.token);
        const size_t at = toks.size() - 1;
        ASSERT_LT(at, batched[k].tokens.size());
        EXPECT_NEAR(batched[k].behaviour_logprobs[at], smp.logprob, 1e-4);
        if (smp.token == model::kEosId) break;
        ASSERT_OK_AND_ASSIGN(r, gen.Step({seq}, {{smp.token}}));
      }
      EXPECT_EQ(batched[k].tokens, toks) << "prompt " << p << " episode " << i;
    }
  }
}

TEST(Engine, MultiTurnContextIsRecordedAsContext) {
  TinyMoe s;
  EngineOptions o;
  o.max_new_tokens = 10;
  o.stop_tokens = {model::kEosId};
  o.sampling.temperature = 0;  // greedy, so the first turn runs to the budget or an <eos>
  o.policy_version = 5;
  // Stop after every token: each "turn" is one token, then the context is appended once.
  o.stop_tokens.clear();
  for (int t = 0; t < s.d.vocab; ++t) o.stop_tokens.push_back(t);
  Engine engine(&s.m, AttentionMode::kSparse, o);
  const std::vector<int> ctx = {model::kFunctionResultsId, 'o', 'k', model::kEndFunctionResultsId,
                                model::kThinkId};
  ScriptedEpisode e(ctx);
  ASSERT_OK(engine.Run({GroupRequest{{model::kBosId, 'h', 'i'}, {&e}, 1}}));
  ASSERT_TRUE(e.finished);
  const EpisodeRecord& r = e.record;
  // prompt(3) + 1 generated + 5 context + 1 generated
  ASSERT_EQ(r.tokens.size(), 10u);
  EXPECT_EQ(r.loss_mask, (std::vector<int>{0, 0, 0, 1, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(std::vector<int>(r.tokens.begin() + 4, r.tokens.begin() + 9), ctx);
  EXPECT_EQ(r.versions[3], 5);
  EXPECT_EQ(r.versions[4], 0);
  EXPECT_EQ(r.routed_experts.size(), r.tokens.size() * s.d.n_moe_layers() * s.d.experts_per_tok);
  EXPECT_EQ(r.generated, 2);
  EXPECT_EQ(r.turns, 2);
  ASSERT_EQ(e.ends.size(), 2u);
  EXPECT_EQ(e.ends[1].first_token, 9);
}

TEST(Engine, TokenBudgetEndsTheEpisode) {
  TinyMoe s;
  auto recs = RunEngine(s.m, 2, 64, 3, 1);
  for (const auto& r : recs) EXPECT_LE(r.generated, 3);
}

}  // namespace
}  // namespace dsarl::rollout

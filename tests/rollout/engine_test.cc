// The engine: same seed, same trajectories; batched continuous generation equals generating one
// episode at a time (up to near-ties of discrete choices); multi-turn context is recorded with
// loss mask 0; budgets are respected.
#include "rollout/engine.h"

#include <cstdint>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "tests/model/model_test_util.h"
#include "tests/model/near_ties.h"
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

model::ModelDims EngineDims(bool moe = true, AttentionMode mode = AttentionMode::kSparse) {
  model::ModelDims d = model::testing::TinyTestDims(moe, mode);
  d.max_pos = 64;
  return d;
}

struct TinyMoe {
  model::ModelDims d = EngineDims();
  model::Transformer m{d};
  TinyMoe() { m.InitRandom(4); }
};

// Dense FFN and dense attention: the only discrete choice left is the sampled token.
struct TinyDense {
  model::ModelDims d = EngineDims(false, AttentionMode::kDense);
  model::Transformer m{d};
  TinyDense() { m.InitRandom(4); }
};

std::vector<std::vector<int>> Prompts() {
  return {{model::kBosId, 'a', 'b'},
          {model::kBosId, 'x', 'y', 'z', 'w', 'v', 'u', 't'},
          {model::kBosId, '1'}};
}

// Runs G episodes per prompt through the engine; returns the records.
std::vector<EpisodeRecord> RunEngine(const model::Transformer& m, int G, int max_batch, int max_new,
                                     uint64_t seed, AttentionMode mode = AttentionMode::kSparse) {
  EngineOptions o;
  o.max_batch = max_batch;
  o.max_new_tokens = max_new;
  o.sampling.top_k = 50;
  o.stop_tokens = {model::kEosId};
  Engine engine(&m, mode, o);
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

// One episode generated alone, the way the engine should generate each of its episodes.
struct Alone {
  std::vector<int> tokens;
  std::vector<float> logprobs;         // 0 for the prompt
  std::vector<std::vector<int>> kept;  // the sampler's kept set per token (empty for the prompt)
  std::vector<int> routed;  // [tokens - 1, n_moe_layers, experts_per_tok]: the last token is
                            // never fed
  size_t first_near_tie = SIZE_MAX;  // first position whose token or routing has a near-tie
  std::string near_tie;
};

// Margins thinner than this (relative) count as near-ties; batched and one-at-a-time float32
// paths agree to ~1e-6.
constexpr double kTieTol = 1e-4;

Alone GenerateAlone(model::Transformer& m, AttentionMode mode, const std::vector<int>& prompt,
                    uint64_t seed, int i, int max_new) {
  const int V = m.dims().vocab;
  Alone a;
  model::Generator gen(&m, mode);
  auto seq = gen.NewSequence();
  auto r = gen.Step({seq}, {prompt});
  EXPECT_OK(r);
  if (!r.ok()) return a;
  a.tokens = prompt;
  a.logprobs.assign(prompt.size(), 0.0f);
  a.kept.assign(prompt.size(), {});
  a.routed = r->routed_experts;
  model::Rng rng = model::Rng::ForStream(seed, i);
  model::SamplingParams sp;
  sp.top_k = 50;
  for (int t = 0; t < max_new; ++t) {
    const auto logits = absl::MakeConstSpan(r->logits.data(), V);
    std::string why;
    if (a.first_near_tie == SIZE_MAX &&
        dsarl::testing::SamplingNearTie(logits, sp, rng, kTieTol, &why)) {
      a.first_near_tie = a.tokens.size();
      a.near_tie = "sampling: " + why;
    }
    auto smp = model::Sample(logits, sp, &rng);
    EXPECT_OK(smp);
    if (!smp.ok()) return a;
    a.tokens.push_back(smp->token);
    a.logprobs.push_back(smp->logprob);
    a.kept.emplace_back(smp->kept.begin(), smp->kept.end());
    if (smp->token == model::kEosId || t + 1 == max_new) break;
    r = gen.Step({seq}, {{smp->token}});
    EXPECT_OK(r);
    if (!r.ok()) return a;
    a.routed.insert(a.routed.end(), r->routed_experts.begin(), r->routed_experts.end());
  }
  // The indexer's and the router's choices along the episode, from one forward over all of it
  // (row t decides what position t attends to and which experts route it).
  model::PackedBatch b;
  b.tokens = a.tokens;
  b.seq_start = {0, int(a.tokens.size())};
  b.targets.assign(a.tokens.size(), -1);
  std::string why;
  const size_t row = dsarl::testing::FirstNearTieRow(m, b, mode, kTieTol, &why);
  if (row < a.tokens.size() && row < a.first_near_tie) {
    a.first_near_tie = row;
    a.near_tie = why;
  }
  return a;
}

// The first position at which the engine's record and the lone episode disagree (token, behaviour
// log-prob beyond 1e-4, kept set, or routing), or SIZE_MAX; `what` says how.
size_t FirstDisagreement(const EpisodeRecord& e, const Alone& a, int routed_per_token,
                         std::string* what) {
  const size_t n = std::max(e.tokens.size(), a.tokens.size());
  for (size_t q = 0; q < n; ++q) {
    if (q >= e.tokens.size() || q >= a.tokens.size()) {
      *what = absl::StrCat("lengths ", e.tokens.size(), " (engine) and ", a.tokens.size());
      return q;
    }
    if (e.tokens[q] != a.tokens[q]) {
      *what = absl::StrCat("token ", e.tokens[q], " (engine) vs ", a.tokens[q]);
      return q;
    }
    if (std::abs(e.behaviour_logprobs[q] - a.logprobs[q]) > 1e-4) {
      *what = absl::StrCat("log-prob ", e.behaviour_logprobs[q], " (engine) vs ", a.logprobs[q]);
      return q;
    }
    if (e.kept[q] != a.kept[q]) {
      *what = absl::StrCat("kept sets of ", e.kept[q].size(), " (engine) and ", a.kept[q].size(),
                           " tokens");
      return q;
    }
    const size_t k = routed_per_token;
    if (q + 1 < a.tokens.size() &&
        !std::equal(e.routed_experts.begin() + q * k, e.routed_experts.begin() + (q + 1) * k,
                    a.routed.begin() + q * k)) {
      *what = "routed experts";
      return q;
    }
  }
  return SIZE_MAX;
}

// Batched generation (5 slots: groups queue and refill, sequences of different lengths decode
// together) against generating each episode alone with its own random stream. The two paths run
// the same arithmetic on different GEMM shapes, so they agree to rounding; a discrete choice on
// those values (sampled token, top-k cut, indexer top-k, MoE router) can then flip only where its
// margin is within rounding. So: tokens, kept sets and routing must be equal and log-probs within
// 1e-4 until the first near-tie of the lone episode; from a near-tie on, an episode may diverge
// (it is then no longer compared), but no more than a quarter of them may, so a systematic
// difference cannot hide behind ties. A disagreement before any near-tie fails the test. The
// dense model (dense FFN, dense attention) leaves only the sampler's choices; the MoE model with
// sparse attention adds the router's and the indexer's.
void ExpectBatchedMatchesOneAtATime(model::Transformer& m, AttentionMode mode) {
  const int G = 4, max_new = 12, seed = 11;
  const auto batched = RunEngine(m, G, 5, max_new, seed, mode);
  const int routed = m.dims().n_moe_layers() * m.dims().experts_per_tok;
  int k = 0, diverged = 0, near_ties = 0;
  for (size_t p = 0; p < Prompts().size(); ++p) {
    for (int i = 0; i < G; ++i, ++k) {
      SCOPED_TRACE(absl::StrCat("prompt ", p, " episode ", i));
      const Alone a = GenerateAlone(m, mode, Prompts()[p], seed + p, i, max_new);
      ASSERT_EQ(batched[k].routed_experts.size(), batched[k].tokens.size() * routed);
      near_ties += a.first_near_tie != SIZE_MAX;
      std::string what;
      const size_t q = FirstDisagreement(batched[k], a, routed, &what);
      if (q == SIZE_MAX) continue;
      ASSERT_GE(q, a.first_near_tie) << "the engine differs at position " << q << " (" << what
                                     << ") with no near-tie before it";
      ++diverged;
      std::cout << "prompt " << p << " episode " << i << ": diverged at " << q << " (" << what
                << ") after a near-tie at " << a.first_near_tie << " (" << a.near_tie << ")\n";
    }
  }
  std::cout << k << " episodes, " << near_ties << " with a near-tie, " << diverged
            << " diverged at one\n";
  EXPECT_LE(diverged, k / 4);
}

TEST(Engine, BatchedEqualsOneEpisodeAtATime) {
  TinyDense s;
  ExpectBatchedMatchesOneAtATime(s.m, AttentionMode::kDense);
}

TEST(Engine, BatchedEqualsOneEpisodeAtATimeWithMoeAndSparseAttention) {
  TinyMoe s;
  ExpectBatchedMatchesOneAtATime(s.m, AttentionMode::kSparse);
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

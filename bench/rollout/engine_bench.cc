// Rollout engine decode throughput with 64 episodes in flight (8 prompts x G = 8, continuous
// batching, shared prefill) beside the model's own batch-1 decode, same `tiny` model, same run.
#include "benchmark/benchmark.h"
#include "model/generator.h"
#include "model/tokenizer.h"
#include "rollout/engine.h"

namespace dsarl::rollout {
namespace {

class Free : public Episode {
 public:
  std::optional<std::vector<int>> OnTurnEnd(const EpisodeRecord&, const TurnEnd&) override {
    return std::nullopt;
  }
  void OnFinished(const EpisodeRecord&, proto::FinishReason) override {}
};

constexpr int kNewTokens = 64;

void BM_Engine64InFlight(benchmark::State& state) {
  model::ModelDims d;  // tiny
  model::Transformer m(d);
  m.InitRandom(1);
  int64_t tokens = 0;
  for (auto _ : state) {
    EngineOptions o;
    o.max_batch = 64;
    o.max_new_tokens = kNewTokens;
    o.stop_tokens = {-1};  // run every episode to the budget
    Engine engine(&m, model::AttentionMode::kSparse, o);
    std::vector<std::unique_ptr<Free>> eps;
    std::vector<GroupRequest> groups;
    for (int p = 0; p < 8; ++p) {
      GroupRequest g;
      g.prompt = {model::kBosId};
      for (int i = 0; i < 48; ++i) g.prompt.push_back('a' + (p * 7 + i) % 26);
      g.seed = p;
      for (int i = 0; i < 8; ++i) {
        eps.push_back(std::make_unique<Free>());
        g.episodes.push_back(eps.back().get());
      }
      groups.push_back(g);
    }
    if (!engine.Run(groups).ok()) state.SkipWithError("engine failed");
    tokens += engine.stats().generated_tokens;
  }
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Engine64InFlight)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ModelBatch1Decode(benchmark::State& state) {
  model::ModelDims d;
  model::Transformer m(d);
  m.InitRandom(1);
  int64_t tokens = 0;
  for (auto _ : state) {
    model::Generator g(&m, model::AttentionMode::kSparse);
    auto s = g.NewSequence();
    std::vector<int> prompt = {model::kBosId};
    for (int i = 0; i < 48; ++i) prompt.push_back('a' + i % 26);
    auto r = g.Step({s}, {prompt});
    for (int t = 0; t < kNewTokens; ++t) {
      r = g.Step({s}, {{'a' + t % 26}});
      ++tokens;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ModelBatch1Decode)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace dsarl::rollout

BENCHMARK_MAIN();

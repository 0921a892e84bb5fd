// Trainer throughput: one GRPO step (reference log-probs + forward/backward + AdamW) of `tiny` on
// groups of 8 samples, in tokens/s, beside the model's bare forward+backward in the same run.
#include <random>

#include "benchmark/benchmark.h"
#include "learner/trainer.h"

namespace dsarl::learner {
namespace {

std::vector<TrainGroup> Batch(const model::ModelDims& d, int prompts, int G, int prompt_len,
                              int gen_len) {
  std::mt19937 rng(1);
  std::vector<TrainGroup> batch(prompts);
  for (auto& g : batch) {
    std::vector<int> prompt(prompt_len);
    for (int& t : prompt) t = rng() % d.vocab;
    for (int i = 0; i < G; ++i) {
      TrainSample s;
      s.tokens = prompt;
      s.loss_mask.assign(prompt_len, 0);
      for (int t = 0; t < gen_len; ++t) {
        s.tokens.push_back(rng() % d.vocab);
        s.loss_mask.push_back(1);
      }
      s.behaviour_logprobs.assign(s.tokens.size(), -5.8f);
      g.samples.push_back(s);
      g.rewards.push_back(rng() % 2);
    }
  }
  return batch;
}

void BM_GrpoStepTiny(benchmark::State& state) {
  const int gen_len = state.range(0);
  model::ModelDims d;  // tiny
  model::Transformer policy(d);
  policy.InitRandom(1);
  auto ref = std::make_unique<model::Transformer>(d);
  ref->InitRandom(1);
  TrainerOptions o;
  o.grpo.beta = 0.001;
  o.micro_batch_tokens = 4096;
  Trainer trainer(&policy, std::move(ref), o);
  const auto batch = Batch(d, 8, 8, 64, gen_len);
  int64_t tokens = 0;
  for (auto _ : state) {
    auto r = trainer.GrpoStep(batch);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    tokens += r->tokens;
  }
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.SetLabel("8 prompts x G=8, reference model on (beta 0.001)");
}
BENCHMARK(BM_GrpoStepTiny)
    ->Arg(64)
    ->Arg(192)
    ->ArgName("gen_len")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace dsarl::learner

BENCHMARK_MAIN();

// Model benchmarks, all measured side by side in one run:
//  - DSA sparse vs dense prefill at T = 4K, 16K, 32K (index_topk 2048) and one decode step at 32K
//    of context, on one attention-heavy block (16 heads) so attention dominates as in DeepSeek's
//    models;
//  - training step (forward + backward) of `tiny` in tokens/s and GFLOP/s beside OpenBLAS sgemm;
//  - decode tokens/s of `tiny` at batch 1, 16 and 64.
// Run: build/bench/model/model_bench [--benchmark_filter=...]
#include <cblas.h>

#include <random>

#include "benchmark/benchmark.h"
#include "model/generator.h"
#include "model/transformer.h"

namespace dsarl::model {
namespace {

ModelDims LongContextDims() {
  ModelDims d;  // tiny widths, but 16 heads and one layer: attention-bound like DeepSeek's models
  d.n_layers = 1;
  d.n_heads = 16;
  d.index_topk = 2048;
  d.max_pos = 32768;
  return d;
}

std::vector<int> RandomTokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> t(n);
  for (int& x : t) x = rng() % vocab;
  return t;
}

void BM_Prefill(benchmark::State& state) {
  const int T = state.range(0);
  const bool sparse = state.range(1) != 0;
  ModelDims d = LongContextDims();
  Transformer m(d);
  m.InitRandom(1);
  const std::vector<int> tokens = RandomTokens(T, d.vocab, 2);
  for (auto _ : state) {
    Generator g(&m, sparse ? AttentionMode::kSparse : AttentionMode::kDense);
    auto s = g.NewSequence();
    auto r = g.Step({s}, {tokens});
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    benchmark::DoNotOptimize(r);
  }
  state.counters["tokens/s"] =
      benchmark::Counter(double(T) * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(sparse ? "sparse" : "dense");
}
BENCHMARK(BM_Prefill)
    ->ArgsProduct({{4096, 16384, 32768}, {0, 1}})
    ->ArgNames({"T", "sparse"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();

void BM_DecodeStepAt32K(benchmark::State& state) {
  const bool sparse = state.range(0) != 0;
  ModelDims d = LongContextDims();
  Transformer m(d);
  m.InitRandom(1);
  Generator g(&m, AttentionMode::kSparse);
  auto base = g.NewSequence();
  // A 32K context: the cache holds keys only, so it serves both modes.
  if (!g.Step({base}, {RandomTokens(32000, d.vocab, 3)}).ok()) state.SkipWithError("prefill");
  g.set_mode(sparse ? AttentionMode::kSparse : AttentionMode::kDense);
  // Steady-state decode: each step appends one token to the same 32K context.
  for (auto _ : state) {
    auto r = g.Step({base}, {{7}});
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel(sparse ? "sparse" : "dense");
}
BENCHMARK(BM_DecodeStepAt32K)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("sparse")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2000)
    ->UseRealTime();

void BM_SgemmReference(benchmark::State& state) {
  const int m = 4096, n = 512, k = 256;  // the tiny model's widest projection over a micro-batch
  std::vector<float> a(size_t(m) * k, 0.5f), b(size_t(n) * k, 0.25f), c(size_t(m) * n);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a.data(), k, b.data(), k,
                0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
}
BENCHMARK(BM_SgemmReference)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_TrainStepTiny(benchmark::State& state) {
  const int seq = state.range(0), n_seq = 4096 / seq;
  ModelDims d;  // tiny
  d.mode = AttentionMode::kSparse;
  Transformer m(d);
  m.InitRandom(1);
  PackedBatch b;
  b.seq_start.push_back(0);
  for (int s = 0; s < n_seq; ++s) {
    std::vector<int> t = RandomTokens(seq + 1, d.vocab, s);
    b.tokens.insert(b.tokens.end(), t.begin(), t.end() - 1);
    b.targets.insert(b.targets.end(), t.begin() + 1, t.end());
    b.seq_start.push_back(b.tokens.size());
  }
  std::vector<float> dlogp(b.tokens.size(), -1.0f / b.tokens.size());
  ForwardOptions o;
  o.mode = AttentionMode::kSparse;
  for (auto _ : state) {
    m.ZeroGrad();
    auto r = m.Forward(b, o);
    auto s = m.Backward(dlogp.data());
    benchmark::DoNotOptimize(r);
  }
  const double tokens = double(b.tokens.size()) * state.iterations();
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  // Training FLOPs: 3x the forward (forward + backward), 6 x active params + attention.
  state.counters["GFLOP/s"] =
      benchmark::Counter(3.0 * ForwardFlopsPerToken(d, seq, true) * tokens,
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_TrainStepTiny)
    ->Arg(256)
    ->Arg(1024)
    ->ArgName("seq")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_DecodeTiny(benchmark::State& state) {
  const int batch = state.range(0);
  ModelDims d;  // tiny
  Transformer m(d);
  m.InitRandom(1);
  constexpr int kSteps = 32;
  for (auto _ : state) {
    state.PauseTiming();
    Generator g(&m, AttentionMode::kSparse);
    std::vector<Generator::SeqId> ids;
    std::vector<std::vector<int>> prompts;
    for (int i = 0; i < batch; ++i) {
      ids.push_back(g.NewSequence());
      prompts.push_back(RandomTokens(64, d.vocab, i));
    }
    auto r = g.Step(ids, prompts);
    state.ResumeTiming();
    for (int s = 0; s < kSteps; ++s) {
      std::vector<std::vector<int>> next(batch, std::vector<int>{s % d.vocab});
      r = g.Step(ids, next);
      benchmark::DoNotOptimize(r);
    }
  }
  state.counters["tokens/s"] =
      benchmark::Counter(double(batch) * kSteps * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeTiny)
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->ArgName("batch")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace dsarl::model

BENCHMARK_MAIN();

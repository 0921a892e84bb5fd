// OpenBLAS sgemm GFLOP/s at the shapes the tiny model's training step uses. This is the yardstick
// that model and trainer throughput are reported against, measured in the same run.
#include <cblas.h>

#include <random>
#include <vector>

#include "benchmark/benchmark.h"

namespace {

void BM_Sgemm(benchmark::State& state) {
  const int m = state.range(0), n = state.range(1), k = state.range(2);
  std::mt19937 rng(1);
  std::normal_distribution<float> d;
  std::vector<float> a(size_t(m) * k), b(size_t(k) * n), c(size_t(m) * n);
  for (float& x : a) x = d(rng);
  for (float& x : b) x = d(rng);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a.data(), k, b.data(), k,
                0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k * state.iterations(), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1000);
}
// Rows = tokens of a micro-batch; (n, k) = projection shapes of `tiny` (d_model 256, FFN 512).
BENCHMARK(BM_Sgemm)
    ->Args({2048, 256, 256})
    ->Args({2048, 512, 256})
    ->Args({2048, 256, 512})
    ->Args({2048, 320, 256})
    ->Args({1024, 1024, 1024})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

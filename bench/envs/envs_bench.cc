// Throughput of the environments: tasks made and verified per second per category (the work of
// synthesis), one reference episode, and one sandboxed Python run. Run by hand:
//   build/bench/envs/envs_bench --benchmark_filter=Synthesize
#include "benchmark/benchmark.h"
#include "envs/episode.h"
#include "envs/registry.h"
#include "envs/sandbox.h"
#include "envs/synthesis.h"

namespace dsarl::envs {
namespace {

const Registry& Builtins() {
  static const Registry* r = [] {
    auto* reg = new Registry();
    RegisterBuiltinCategories(reg);
    return reg;
  }();
  return *r;
}

// Synthesizes 4 environments x 20 tasks of one category per iteration; reports tasks/s.
void BM_Synthesize(benchmark::State& state, const std::string& category) {
  SynthesisOptions o;
  o.categories = {category};
  o.envs_per_category = 4;
  o.tasks_per_env = 20;
  o.threads = 1;
  int64_t tasks = 0;
  for (auto _ : state) {
    auto r = Synthesize(Builtins(), o);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    tasks += r.ok() ? r->report.total_tasks : 0;
  }
  state.counters["tasks/s"] =
      benchmark::Counter(static_cast<double>(tasks), benchmark::Counter::kIsRate);
}

void BM_SandboxedPython(benchmark::State& state) {
  auto python = FindPython();
  if (!python.ok()) {
    state.SkipWithError("no python3");
    return;
  }
  SandboxOptions o;
  o.files["main.py"] = "print(6 * 7)\n";
  for (auto _ : state) {
    auto r = RunSandboxed({*python, "-I", "-S", "main.py"}, o);
    if (!r.ok() || !r->ok()) state.SkipWithError("run failed");
  }
}
BENCHMARK(BM_SandboxedPython)->Unit(benchmark::kMillisecond)->UseRealTime();

int RegisterAll() {
  for (const Category* c : Builtins().All()) {
    benchmark::RegisterBenchmark(("BM_Synthesize/" + c->name).c_str(), BM_Synthesize, c->name)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return 0;
}
const int kRegistered = RegisterAll();

}  // namespace
}  // namespace dsarl::envs

BENCHMARK_MAIN();

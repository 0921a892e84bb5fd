// Throughput of the environments: tasks made and verified per second per category (the work of
// synthesis), one execute_code call, and one sandboxed Python run per set of layers. Run by hand:
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

// One `execute_code` tool call of a code_interpreter task (its reference program), through the
// environment as a rollout makes it: ms per call.
void BM_ExecuteCode(benchmark::State& state) {
  const Category* category = Builtins().Find("code_interpreter");
  proto::EnvSpec spec;
  spec.set_category("code_interpreter");
  spec.set_seed(7);
  const std::string naming = "naming", value = "2";
  spec.mutable_params()->insert({naming, value});
  auto env = category->build(spec);
  if (!env.ok()) return state.SkipWithError(env.status().ToString().c_str());
  auto episode = (*env)->Reset(1, 0);
  if (!episode.ok()) return state.SkipWithError(episode.status().ToString().c_str());
  const std::vector<ToolCall>& calls = episode->task.solution.rounds.at(0);
  for (auto _ : state) {
    auto r = (*env)->Step(episode->state.get(), calls);
    if (!r.ok() || r->results.at(0).output.find('[') != std::string::npos) {
      state.SkipWithError("the call failed");
    }
  }
}
BENCHMARK(BM_ExecuteCode)->Unit(benchmark::kMillisecond)->UseRealTime();

// `print(6 * 7)` in the sandbox with every layer (arg 0), without the namespaces and private
// root (1), and without them and Landlock's read rules too (2): what each layer costs.
void BM_SandboxedPython(benchmark::State& state) {
  auto python = FindPython();
  if (!python.ok()) return state.SkipWithError("no python3");
  auto paths = PythonReadPaths(*python);
  if (!paths.ok()) return state.SkipWithError(paths.status().ToString().c_str());
  SandboxOptions o;
  o.files["main.py"] = "print(6 * 7)\n";
  o.read_only_paths = *paths;
  o.min_level = static_cast<int>(SandboxLevel::kMinimal);
  if (state.range(0) >= 1) o.disabled_layers |= kLayerNamespaces;
  if (state.range(0) >= 2) o.disabled_layers |= kLayerLandlockRead;
  uint32_t layers = 0;
  for (auto _ : state) {
    auto r = RunSandboxed({*python, "-I", "-S", "main.py"}, o);
    if (!r.ok() || !r->ok()) state.SkipWithError("run failed");
    if (r.ok()) layers = r->layers;
  }
  state.SetLabel(SandboxLayerNames(layers));
}
BENCHMARK(BM_SandboxedPython)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

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

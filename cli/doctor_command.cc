// `dsarl doctor`: what this machine offers dsarl, and why a GPU is or is not used.
#include <cblas.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "envs/sandbox.h"
#include "google/protobuf/stubs/common.h"
#include "learner/dist/rank_layout.h"
#include "learner/dist/world.h"
#include "model/cpu/isa.h"
#include "model/device.h"
#include "store/version.h"

namespace dsarl::cli {
namespace {

std::string CpuFeatures() {
  std::string out;
  __builtin_cpu_init();
  auto add = [&](const char* name, bool on) {
    if (on) out += std::string(out.empty() ? "" : " ") + name;
  };
  add("sse4.2", __builtin_cpu_supports("sse4.2"));
  add("avx", __builtin_cpu_supports("avx"));
  add("avx2", __builtin_cpu_supports("avx2"));
  add("fma", __builtin_cpu_supports("fma"));
  add("avx512f", __builtin_cpu_supports("avx512f"));
  add("avx512bw", __builtin_cpu_supports("avx512bw"));
  add("avx512vnni", __builtin_cpu_supports("avx512vnni"));
  return out.empty() ? "(none detected)" : out;
}

// The code sandbox's layers here, the level they reach, and why any layer is missing.
// The learner rank this process would be, from the launcher's variables, and the backend its
// collectives would use (with cluster.use_gpu on).
void PrintRanks() {
  auto layout = learner::dist::RankLayoutFromEnv(learner::dist::ProcessEnv(), 1);
  if (!layout.ok()) {
    std::cout << "  ranks        cannot tell: " << layout.status().message() << "\n";
    return;
  }
  std::string why;
  const std::string backend = learner::dist::BackendChoice(true, &why);
  std::cout << "  ranks        " << layout->Describe() << "\n";
  std::cout << "               collectives over " << backend << " (" << why << ")\n";
}

void PrintSandbox() {
  const envs::SandboxSupport& s = envs::GetSandboxSupport();
  std::cout << absl::StrFormat("  sandbox      level %s; layers: %s\n",
                               envs::SandboxLevelName(envs::LevelOfLayers(s.layers)),
                               envs::SandboxLayerNames(s.layers));
  if (s.landlock_abi > 0) std::cout << "               landlock ABI " << s.landlock_abi << "\n";
  if (!s.cgroup_dir.empty()) std::cout << "               cgroup parent " << s.cgroup_dir << "\n";
  for (const std::string& m : s.missing) std::cout << "               missing " << m << "\n";
}

int Run() {
  std::cout << "dsarl doctor\n";
  std::cout << absl::StrFormat("  cpu          %u hardware threads; features: %s\n",
                               std::thread::hardware_concurrency(), CpuFeatures());
  const char* isa_env = std::getenv("DSARL_CPU_ISA");
  std::cout << absl::StrFormat(
      "  kernels      %s (DSARL_CPU_ISA=%s; avx2 forces the portable kernels)\n",
      model::cpu::CpuIsaName(model::cpu::ActiveCpuIsa()), isa_env == nullptr ? "auto" : isa_env);
  const char* core_env = std::getenv("OPENBLAS_CORETYPE");
  std::cout << absl::StrFormat(
      "  blas         %s (core %s%s), %d threads\n", openblas_get_config(), openblas_get_corename(),
      core_env == nullptr ? "" : std::string(", OPENBLAS_CORETYPE=") + core_env,
      openblas_get_num_threads());
  model::DeviceReport d = model::ProbeDevices();
  if (d.cuda_compiled) {
    std::cout << absl::StrFormat(
        "  cuda         compiled in (runtime %d.%d); driver %s\n", d.cuda_runtime_version / 1000,
        (d.cuda_runtime_version % 1000) / 10,
        d.cuda_driver_version == 0 ? std::string("not installed")
                                   : absl::StrFormat("%d.%d", d.cuda_driver_version / 1000,
                                                     (d.cuda_driver_version % 1000) / 10));
  } else {
    std::cout << "  cuda         not compiled in\n";
  }
  if (d.gpus.empty()) {
    std::cout << "  gpu          none: " << d.why_no_gpu << "; dsarl runs on the CPU\n";
  }
  for (const model::GpuInfo& g : d.gpus) {
    std::cout << absl::StrFormat("  gpu %d        %s, sm_%d%d, %.1f GiB, %d SMs, self-test %s\n",
                                 g.index, g.name, g.compute_major, g.compute_minor,
                                 g.memory_bytes / double(1 << 30), g.multiprocessors,
                                 g.self_test_passed ? "passed" : "FAILED: " + g.self_test_error);
  }
  std::cout << "  nccl         " << (d.nccl_version.empty() ? "not linked" : d.nccl_version)
            << "\n";
  std::cout << "  grpc         " << grpc::Version() << "\n";
  std::cout << "  protobuf     "
            << google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION) << "\n";
  std::cout << "  rocksdb      " << store::RocksDbVersion() << "\n";
  PrintSandbox();
  PrintRanks();
  return 0;
}

}  // namespace

void RegisterDoctorCommand(CommandTable* table) {
  table->Add(Command{
      .name = "doctor",
      .summary = "report CPU features, BLAS, CUDA/GPU (or why none), NCCL, gRPC and RocksDB",
      .description =
          "Prints what this machine offers dsarl. When no GPU is usable it says why and\n"
          "that dsarl will run on the CPU.",
      .run = [](const Args&) -> absl::StatusOr<int> { return Run(); }});
}

}  // namespace dsarl::cli

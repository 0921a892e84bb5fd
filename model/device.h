// What compute devices this process can use, and why not when it cannot. The CUDA backend is
// compiled in whenever nvcc was found at build time; at run time it is used only when a GPU and a
// driver answer, and otherwise the program runs on the CPU and says why.
#ifndef DSARL_MODEL_DEVICE_H_
#define DSARL_MODEL_DEVICE_H_

#include <string>
#include <vector>

namespace dsarl::model {

struct GpuInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  size_t memory_bytes = 0;
  int multiprocessors = 0;
  bool self_test_passed = false;  // a small kernel ran and produced the expected values
  std::string self_test_error;
};

struct DeviceReport {
  bool cuda_compiled = false;    // this binary contains the CUDA backend
  int cuda_runtime_version = 0;  // e.g. 13000; 0 when not compiled
  int cuda_driver_version = 0;   // 0 when no driver is installed
  std::vector<GpuInfo> gpus;     // usable GPUs
  std::string why_no_gpu;        // set when gpus is empty: the reason, in words
  std::string nccl_version;      // "" when NCCL is not linked
};

// Probes the CUDA runtime and driver, lists GPUs and runs a tiny self-test kernel on each.
// Never fails: problems are described in the report.
DeviceReport ProbeDevices();

// True when at least one GPU passed its self-test; `reason` gets why not otherwise.
bool GpuAvailable(std::string* reason);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_DEVICE_H_

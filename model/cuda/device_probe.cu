// CUDA side of ProbeDevices: lists GPUs, and on each runs a small kernel whose result is checked
// on the host, so "a GPU is present" means "kernels actually run", not just "a driver answered".
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "model/device.h"

#ifdef DSARL_HAVE_NCCL
#include <nccl.h>
#endif

namespace dsarl::model {
namespace {

__global__ void SelfTestKernel(float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = 2.0f * static_cast<float>(i) + 1.0f;
}

bool RunSelfTest(int device, std::string* error) {
  if (cudaSetDevice(device) != cudaSuccess) {
    *error = "cudaSetDevice failed";
    return false;
  }
  constexpr int kN = 4096;
  float* d = nullptr;
  cudaError_t e = cudaMalloc(&d, kN * sizeof(float));
  if (e != cudaSuccess) {
    *error = cudaGetErrorString(e);
    return false;
  }
  SelfTestKernel<<<(kN + 255) / 256, 256>>>(d, kN);
  std::vector<float> h(kN);
  e = cudaMemcpy(h.data(), d, kN * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d);
  if (e != cudaSuccess) {
    *error = cudaGetErrorString(e);
    return false;
  }
  for (int i = 0; i < kN; ++i) {
    if (h[i] != 2.0f * i + 1.0f) {
      *error = "self-test kernel produced wrong values";
      return false;
    }
  }
  return true;
}

}  // namespace

DeviceReport ProbeDevices() {
  DeviceReport r;
  r.cuda_compiled = true;
  cudaRuntimeGetVersion(&r.cuda_runtime_version);
  if (cudaDriverGetVersion(&r.cuda_driver_version) != cudaSuccess) r.cuda_driver_version = 0;
#ifdef DSARL_HAVE_NCCL
  int nccl = 0;
  if (ncclGetVersion(&nccl) == ncclSuccess) {
    r.nccl_version = std::to_string(nccl / 10000) + "." + std::to_string((nccl / 100) % 100) + "." +
                     std::to_string(nccl % 100);
  }
#endif
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    r.why_no_gpu = std::string("CUDA reports: ") + cudaGetErrorString(e);
    if (r.cuda_driver_version == 0) r.why_no_gpu += " (no NVIDIA driver is installed)";
    return r;
  }
  if (count == 0) {
    r.why_no_gpu = "the CUDA driver sees no GPU";
    return r;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    GpuInfo g;
    g.index = i;
    g.name = p.name;
    g.compute_major = p.major;
    g.compute_minor = p.minor;
    g.memory_bytes = p.totalGlobalMem;
    g.multiprocessors = p.multiProcessorCount;
    g.self_test_passed = RunSelfTest(i, &g.self_test_error);
    r.gpus.push_back(g);
  }
  return r;
}

}  // namespace dsarl::model

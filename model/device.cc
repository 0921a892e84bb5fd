#include "model/device.h"

namespace dsarl::model {

#ifndef DSARL_HAVE_CUDA
DeviceReport ProbeDevices() {
  DeviceReport r;
  r.why_no_gpu = "this binary was built without CUDA (nvcc not found or -DDSARL_CUDA=OFF)";
  return r;
}
#endif

bool GpuAvailable(std::string* reason) {
  DeviceReport r = ProbeDevices();
  for (const GpuInfo& g : r.gpus) {
    if (g.self_test_passed) return true;
  }
  if (reason != nullptr) {
    *reason = !r.why_no_gpu.empty() ? r.why_no_gpu : "no GPU passed its self-test";
  }
  return false;
}

}  // namespace dsarl::model

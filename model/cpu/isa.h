// Which hand-vectorized CPU kernels run. A kernel with an AVX-512 version keeps a portable one
// beside it (plain C++ the compiler vectorizes for whatever -march the build uses, which is what an
// AVX2-only machine runs); the choice is made at run time, so one machine can test both:
//   DSARL_CPU_ISA=auto    (default) AVX-512 where the CPU has AVX-512F, else portable
//   DSARL_CPU_ISA=avx512  AVX-512 (an error, reported by the CLI, on a CPU without it)
//   DSARL_CPU_ISA=avx2    the portable kernels, as on an AVX2-only machine
// OpenBLAS makes its own choice of kernels; OPENBLAS_CORETYPE (e.g. Haswell) forces it, and must be
// set before the process starts. `dsarl doctor` prints both.
#ifndef DSARL_MODEL_CPU_ISA_H_
#define DSARL_MODEL_CPU_ISA_H_

#include <string>

#include "absl/status/statusor.h"

namespace dsarl::model::cpu {

enum class CpuIsa { kAvx2, kAvx512 };

const char* CpuIsaName(CpuIsa isa);

// True when this build has AVX-512 kernels (x86-64) and the CPU runs AVX-512F.
bool CpuHasAvx512();

// Parses a DSARL_CPU_ISA value ("" and "auto" pick the best the CPU has). InvalidArgument naming
// the variable for an unknown value, or for "avx512" on a CPU without AVX-512F.
absl::StatusOr<CpuIsa> ParseCpuIsa(const std::string& value);

// The kernels in use in this process: DSARL_CPU_ISA read once, at the first call. An invalid value
// falls back to the portable kernels (the CLI refuses to start with one; see ValidateCpuIsaEnv).
CpuIsa ActiveCpuIsa();

// OK when DSARL_CPU_ISA is unset or valid; otherwise the error ParseCpuIsa gives.
absl::Status ValidateCpuIsaEnv();

}  // namespace dsarl::model::cpu

#endif  // DSARL_MODEL_CPU_ISA_H_

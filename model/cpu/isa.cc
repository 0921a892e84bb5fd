#include "model/cpu/isa.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace dsarl::model::cpu {
namespace {

const char* EnvValue() {
  const char* v = std::getenv("DSARL_CPU_ISA");
  return v == nullptr ? "" : v;
}

}  // namespace

const char* CpuIsaName(CpuIsa isa) { return isa == CpuIsa::kAvx512 ? "avx512" : "avx2"; }

bool CpuHasAvx512() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

absl::StatusOr<CpuIsa> ParseCpuIsa(const std::string& value) {
  const std::string v = absl::AsciiStrToLower(value);
  if (v.empty() || v == "auto") return CpuHasAvx512() ? CpuIsa::kAvx512 : CpuIsa::kAvx2;
  if (v == "avx2" || v == "portable") return CpuIsa::kAvx2;
  if (v == "avx512") {
    if (!CpuHasAvx512()) {
      return absl::InvalidArgumentError(
          "DSARL_CPU_ISA=avx512, but this CPU has no AVX-512F; use avx2 or auto");
    }
    return CpuIsa::kAvx512;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("DSARL_CPU_ISA=", value, ": expected auto, avx2 or avx512"));
}

CpuIsa ActiveCpuIsa() {
  static const CpuIsa kIsa = [] {
    absl::StatusOr<CpuIsa> isa = ParseCpuIsa(EnvValue());
    return isa.ok() ? *isa : CpuIsa::kAvx2;
  }();
  return kIsa;
}

absl::Status ValidateCpuIsaEnv() { return ParseCpuIsa(EnvValue()).status(); }

}  // namespace dsarl::model::cpu

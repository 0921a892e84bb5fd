// DSARL_CPU_ISA: the values it takes, the errors it gives, and that the switch is in effect (CTest
// runs the model tests a second time with DSARL_CPU_ISA=avx2; this test then sees the portable
// kernels selected).
#include "model/cpu/isa.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace dsarl::model::cpu {
namespace {

TEST(CpuIsa, ParsesItsValues) {
  const CpuIsa best = CpuHasAvx512() ? CpuIsa::kAvx512 : CpuIsa::kAvx2;
  EXPECT_EQ(ParseCpuIsa("").value(), best);
  EXPECT_EQ(ParseCpuIsa("auto").value(), best);
  EXPECT_EQ(ParseCpuIsa("AVX2").value(), CpuIsa::kAvx2);
  EXPECT_EQ(ParseCpuIsa("portable").value(), CpuIsa::kAvx2);
  EXPECT_EQ(ParseCpuIsa("avx512").ok(), CpuHasAvx512());
  if (!CpuHasAvx512()) {
    EXPECT_NE(ParseCpuIsa("avx512").status().message().find("no AVX-512F"), std::string::npos);
  }
  const absl::Status bad = ParseCpuIsa("sse9").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("DSARL_CPU_ISA=sse9"), std::string::npos) << bad;
}

TEST(CpuIsa, TheEnvironmentChoosesTheKernels) {
  const char* env = std::getenv("DSARL_CPU_ISA");
  const absl::StatusOr<CpuIsa> want = ParseCpuIsa(env == nullptr ? "" : env);
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(ActiveCpuIsa(), *want);
  EXPECT_TRUE(ValidateCpuIsaEnv().ok());
  std::cout << "kernels: " << CpuIsaName(ActiveCpuIsa()) << "\n";
}

}  // namespace
}  // namespace dsarl::model::cpu

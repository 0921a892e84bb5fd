// Every op of the Backend table, at every shape of op_cases_*.cc, on every backend under test,
// against the reference backend (see op_harness.h for what is compared). Running the binary
// directly prints the table of ops with their worst normalized error. Also: the sparse kernel over
// full index lists equals dense attention, and the harness catches the faults it exists for.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "model/backend.h"
#include "model/cpu/isa.h"
#include "tests/model/op_cases.h"
#include "tests/model/op_harness.h"

namespace dsarl::model::optest {
namespace {

std::vector<CaseDef> AllCases() {
  std::vector<CaseDef> v = DenseOpCases();
  for (CaseDef& c : AttentionOpCases()) v.push_back(std::move(c));
  return v;
}

class OpTest : public ::testing::TestWithParam<CaseDef> {};

TEST_P(OpTest, MatchesReference) {
  const CaseDef& def = GetParam();
  const uint64_t seed = CaseSeed(def.name);
  std::mt19937_64 rng(seed);
  const OpCase c = def.make(rng);
  const CaseReport r = RunCase(c, BackendsUnderTest(), seed);
  for (const std::string& f : r.failures) ADD_FAILURE() << c.op << " [" << c.shape << "]: " << f;
  if (!r.failures.empty()) {
    ADD_FAILURE() << "inputs: case seed " << seed << " (DSARL_OP_TEST_SEED varies it); kernels "
                  << cpu::CpuIsaName(cpu::ActiveCpuIsa());
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<CaseDef>& info) {
                           return info.param.name;
                         });

// Every op of the table has cases. A new op added to Backend changes its size and fails this test
// until it is listed here and given cases.
TEST(OpHarness, CoversEveryOpOfTheBackendTable) {
  const std::set<std::string> ops = {"gemm",
                                     "matmul_forward",
                                     "matmul_backward",
                                     "rmsnorm_forward",
                                     "rmsnorm_backward",
                                     "layernorm_forward",
                                     "layernorm_backward",
                                     "embedding_forward",
                                     "embedding_backward",
                                     "rope_interleaved",
                                     "rope_half",
                                     "logprob_forward",
                                     "logprob_backward",
                                     "attention_forward",
                                     "attention_backward",
                                     "attention_target_row",
                                     "indexer_select",
                                     "indexer_loss",
                                     "mlp_forward",
                                     "mlp_backward",
                                     "moe_forward",
                                     "moe_backward"};
  EXPECT_EQ(sizeof(Backend), sizeof(const char*) + ops.size() * sizeof(void (*)()))
      << "the Backend table has ops this list does not name";
  std::set<std::string> covered;
  for (const CaseDef& def : AllCases()) {
    std::mt19937_64 rng(1);
    covered.insert(def.make(rng).op);
  }
  EXPECT_EQ(covered, ops);
}

// SetCpuThreads holds for the whole process: a thread started after it (`dsarl run` trains on one
// while a rollout worker has the other cores) runs the CPU backend's kernels with that many
// threads, not with OpenMP's default of one per core, which oversubscribes the cores.
TEST(CpuBackend, ThreadsStartedLaterUseTheProcessThreadCount) {
  int fresh_default = 0;
  std::thread([&] { fresh_default = omp_get_max_threads(); }).join();
  const int want = fresh_default == 1 ? 2 : 1;  // a count the test can tell from the default
  SetCpuThreads(want);
  int team = 0;
  std::thread([&] {
    std::vector<float> a(4, 1.0f), b(4, 1.0f), c(4, 0.0f);
    CpuBackend().gemm(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
    // The team a parallel region on this thread gets: the one the kernels ran with.
#pragma omp parallel
#pragma omp single
    team = omp_get_num_threads();
  }).join();
  SetCpuThreads(fresh_default);
  EXPECT_EQ(team, want) << "a thread started after SetCpuThreads(" << want << ") ran with " << team
                        << " threads";
}

// SPEC §1: attention over every visible key through index lists equals dense attention. The layer
// sends such rows to the dense kernel (so the model's result is exactly dense); here the sparse
// kernels themselves are checked, with every head count that has an in-place kernel and two that
// gather.
TEST(SparseAttention, FullIndexListsEqualDense) {
  for (int heads : {1, 3, 4, 8, 16, 32}) {
    std::mt19937_64 rng(CaseSeed("full_index_lists") + heads);
    const std::vector<int> lengths = {45, 1, 20};
    const cpu::AttentionShape sh{heads, 20, 6, 1.0f / std::sqrt(26.0f)};
    const int D = sh.dim();
    int T = 0;
    for (int l : lengths) T += l;
    const std::vector<float> q = Normal(rng, size_t(T) * heads * D),
                             kv = Normal(rng, size_t(T) * D),
                             d_o = Normal(rng, size_t(T) * heads * sh.d_c);
    cpu::KeyRows dense;
    int start = 0;
    for (int l : lengths) {
      for (int t = 0; t < l; ++t) {
        dense.base.push_back(kv.data() + size_t(start) * D);
        dense.n_keys.push_back(t + 1);
      }
      start += l;
    }
    const int topk = 48;
    std::vector<int> idx(size_t(T) * topk, -1);
    for (int i = 0; i < T; ++i) {
      for (int j = 0; j < dense.n_keys[i]; ++j) idx[size_t(i) * topk + j] = j;
    }
    cpu::KeyRows sparse = dense;
    sparse.indices = idx.data();
    sparse.topk = topk;
    std::vector<float> o_ref(size_t(T) * heads * sh.d_c), lse_ref(size_t(T) * heads);
    ReferenceBackend().attention_forward(o_ref.data(), lse_ref.data(), q.data(), dense, sh, T);
    std::vector<float> dq_ref(q.size(), 0.0f), dkv_ref(kv.size(), 0.0f);
    ReferenceBackend().attention_backward(dq_ref.data(), dkv_ref.data(), d_o.data(), q.data(),
                                          kv.data(), dense, o_ref.data(), lse_ref.data(), sh, T, T);
    std::vector<const Backend*> all = BackendsUnderTest();
    all.push_back(&ReferenceBackend());
    for (const Backend* be : all) {
      std::vector<float> o(o_ref.size()), lse(lse_ref.size());
      be->attention_forward(o.data(), lse.data(), q.data(), sparse, sh, T);
      EXPECT_LE(NormalizedError(o.data(), o_ref.data(), o.size()), 5e-5)
          << be->name << " H" << heads;
      EXPECT_LE(NormalizedError(lse.data(), lse_ref.data(), lse.size()), 5e-5) << be->name;
      std::vector<float> dq(q.size(), 0.0f), dkv(kv.size(), 0.0f);
      be->attention_backward(dq.data(), dkv.data(), d_o.data(), q.data(), kv.data(), sparse,
                             o.data(), lse.data(), sh, T, T);
      EXPECT_LE(NormalizedError(dq.data(), dq_ref.data(), dq.size()), 5e-5) << be->name;
      EXPECT_LE(NormalizedError(dkv.data(), dkv_ref.data(), dkv.size()), 5e-5) << be->name;
    }
  }
}

// ---- the harness finds what it is for -----------------------------------------------------------

// Broken versions of matmul_forward, each with one fault.
void WritesPastTheEnd(float* out, const float* in, const float* w, int T, int K, int N, bool acc,
                      int ld_out, int ld_in) {
  CpuBackend().matmul_forward(out, in, w, T, K, N, acc, ld_out, ld_in);
  out[size_t(T - 1) * (ld_out < 0 ? N : ld_out) + N] = 0.0f;
}
void WritesBeforeTheStart(float* out, const float* in, const float* w, int T, int K, int N,
                          bool acc, int ld_out, int ld_in) {
  CpuBackend().matmul_forward(out, in, w, T, K, N, acc, ld_out, ld_in);
  out[-1] = 1.0f;
}
void LeavesOneUnwritten(float* out, const float* in, const float* w, int T, int K, int N, bool acc,
                        int ld_out, int ld_in) {
  std::vector<float> tmp(size_t(T) * N);
  CpuBackend().matmul_forward(tmp.data(), in, w, T, K, N, false, -1, ld_in);
  for (size_t i = 1; i < tmp.size(); ++i) {
    float& o = out[(i / N) * (ld_out < 0 ? N : ld_out) + i % N];
    o = acc ? o + tmp[i] : tmp[i];
  }
}
void OverwritesInsteadOfAdding(float* out, const float* in, const float* w, int T, int K, int N,
                               bool, int ld_out, int ld_in) {
  CpuBackend().matmul_forward(out, in, w, T, K, N, false, ld_out, ld_in);
}
void WritesAStrideGap(float* out, const float* in, const float* w, int T, int K, int N, bool acc,
                      int ld_out, int ld_in) {
  CpuBackend().matmul_forward(out, in, w, T, K, N, acc, ld_out, ld_in);
  if (ld_out > N) out[N] = 0.0f;
}
void ProducesNan(float* out, const float* in, const float* w, int T, int K, int N, bool acc,
                 int ld_out, int ld_in) {
  CpuBackend().matmul_forward(out, in, w, T, K, N, acc, ld_out, ld_in);
  out[0] = std::nanf("");
}
void IsSlightlyWrong(float* out, const float* in, const float* w, int T, int K, int N, bool acc,
                     int ld_out, int ld_in) {
  CpuBackend().matmul_forward(out, in, w, T, K, N, acc, ld_out, ld_in);
  out[0] *= 1.01f;
}

std::string FailuresOf(decltype(&WritesPastTheEnd) broken, bool accumulate, int pad) {
  Backend be = CpuBackend();
  be.name = "broken";
  be.matmul_forward = broken;
  const int T = 20, K = 16, N = 24;
  std::mt19937_64 rng(3);
  auto in = std::make_shared<std::vector<float>>(Normal(rng, size_t(T) * K));
  auto w = std::make_shared<std::vector<float>>(Normal(rng, size_t(N) * K));
  OpCase c{.op = "matmul_forward", .shape = "broken", .tol = 1e-5};
  c.outputs = {Strided("out", T, N, N + pad, accumulate ? Init::kRandom : Init::kPoison)};
  c.run = [=](const Backend& b, Outputs* o) {
    b.matmul_forward(o->F(0), in->data(), w->data(), T, K, N, accumulate, pad ? N + pad : -1, -1);
  };
  std::string all;
  for (const std::string& f : RunCase(c, {&be}, 7, /*record=*/false).failures) all += f + "\n";
  return all;
}

TEST(OpHarness, CatchesEveryKindOfFault) {
  EXPECT_EQ(FailuresOf(CpuBackend().matmul_forward, false, 0), "");
  EXPECT_EQ(FailuresOf(CpuBackend().matmul_forward, true, 3), "");
  EXPECT_NE(FailuresOf(WritesPastTheEnd, false, 0).find("wrote past its end"), std::string::npos);
  EXPECT_NE(FailuresOf(WritesBeforeTheStart, false, 0).find("before its start"), std::string::npos);
  EXPECT_NE(FailuresOf(LeavesOneUnwritten, false, 0).find("never written"), std::string::npos);
  EXPECT_NE(FailuresOf(OverwritesInsteadOfAdding, true, 0).find("normalized error"),
            std::string::npos);
  EXPECT_NE(FailuresOf(WritesAStrideGap, false, 3).find("stride gap"), std::string::npos);
  EXPECT_NE(FailuresOf(ProducesNan, false, 0).find("NaN"), std::string::npos);
  EXPECT_NE(FailuresOf(IsSlightlyWrong, false, 0).find("normalized error"), std::string::npos);
}

TEST(OpHarness, NormalizedErrorHasAnAbsoluteFloorAndRejectsNan) {
  // A reference of exact zeros against rounding noise: compared absolutely, it passes.
  std::vector<float> zero(8, 0.0f), noise(8, 3e-8f);
  EXPECT_LT(NormalizedError(noise.data(), zero.data(), 8), 1e-5);
  std::vector<float> a = {1, 2, 3}, b = {1, 2, 3.003f};
  EXPECT_NEAR(NormalizedError(a.data(), b.data(), 3), 0.003 / std::sqrt(1 + 4 + 3.003 * 3.003),
              1e-6);
  a[1] = std::nanf("");
  EXPECT_TRUE(std::isinf(NormalizedError(a.data(), b.data(), 3)));
  EXPECT_TRUE(std::isinf(NormalizedError(b.data(), a.data(), 3)));
  std::vector<float> inf = {-INFINITY, 1}, inf2 = {-INFINITY, 1}, fin = {0, 1};
  EXPECT_EQ(NormalizedError(inf.data(), inf2.data(), 2), 0.0);
  EXPECT_TRUE(std::isinf(NormalizedError(inf.data(), fin.data(), 2)));
}

TEST(OpHarness, SelectionsMayDifferOnlyNearTheCut) {
  const std::vector<double> scores = {0.0, 5.0, 1.0, 1.0 + 1e-7, 3.0, -2.0};
  const std::vector<int> a = {1, 2, 4}, b = {1, 3, 4}, c = {1, 4, 5};
  EXPECT_EQ(SelectionsAgree(a.data(), b.data(), scores, 6, 3, 1e-5, "row"), "");  // a near-tie
  EXPECT_NE(SelectionsAgree(a.data(), c.data(), scores, 6, 3, 1e-5, "row"), "");  // -2 is far
  const std::vector<int> unsorted = {4, 1, 2}, dup = {1, 1, 4}, short_row = {0, 1, -1};
  EXPECT_NE(SelectionsAgree(unsorted.data(), a.data(), scores, 6, 3, 1e-5, "row"), "");
  EXPECT_NE(SelectionsAgree(dup.data(), a.data(), scores, 6, 3, 1e-5, "row"), "");
  EXPECT_EQ(SelectionsAgree(short_row.data(), short_row.data(), scores, 2, 3, 1e-5, "row"), "");
  const std::vector<int> missing_pad = {0, 1, 2};
  EXPECT_NE(SelectionsAgree(missing_pad.data(), short_row.data(), scores, 2, 3, 1e-5, "row"), "");
}

class SummaryPrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    PrintSummary(std::string("kernels: ") + cpu::CpuIsaName(cpu::ActiveCpuIsa()));
  }
};
const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new SummaryPrinter);

}  // namespace
}  // namespace dsarl::model::optest

// The cases the op-test harness runs: every op of the Backend table at several shapes, edge shapes
// included (one row, one key, top-k >= T, top-k = 1, widths and head counts off the vector width,
// packed sequences of length 1, strided operands).
#ifndef DSARL_TESTS_MODEL_OP_CASES_H_
#define DSARL_TESTS_MODEL_OP_CASES_H_

#include <vector>

#include "model/cpu/attention.h"
#include "tests/model/op_harness.h"

namespace dsarl::model::optest {

// gemm, matmul, norms, embedding, rope, log-prob, MLP and MoE.
std::vector<CaseDef> DenseOpCases();
// attention forward/backward, the attention target row, indexer selection and the indexer loss.
std::vector<CaseDef> AttentionOpCases();

// Packed causal rows over keys [T, width]: the rows of each sequence (of `lengths`) see their
// sequence's keys up to themselves.
cpu::KeyRows CausalRows(const float* keys, int width, const std::vector<int>& lengths);
// [T]: the first row of each row's sequence.
std::vector<int> SequenceStarts(const std::vector<int>& lengths);

// Output specs for the common layouts.
OutputSpec Written(const std::string& name, size_t size);    // kPoison
OutputSpec AddedInto(const std::string& name, size_t size);  // kRandom
// [rows, cols] with row stride ld >= cols: the columns past cols are gaps.
OutputSpec Strided(const std::string& name, int rows, int cols, int ld, Init init);

}  // namespace dsarl::model::optest

#endif  // DSARL_TESTS_MODEL_OP_CASES_H_

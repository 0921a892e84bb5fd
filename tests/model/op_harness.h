// The op-test harness (in the spirit of ggml's test-backend-ops): a case runs one op of the Backend
// table on inputs drawn for that case, once on the reference backend and once on each backend
// under test, into guarded output buffers, and compares:
//   - every float output by normalized error ||a - b|| / max(||b||, floor * sqrt(n)), against a
//     tolerance per op; NaN never passes (an infinity passes only where the reference has it too);
//   - outputs the op must write are poisoned first (a NaN with a payload), so an element it leaves
//     unwritten is reported as such; outputs it adds into start from the same random values;
//   - sentinels before and after every output, and in stride gaps, must be intact (no
//     out-of-bounds writes);
//   - discrete outputs (top-k selections, routed experts) by rules that hold for any summation
//     order (SelectionsAgree).
// The reference must pass the same buffer checks. Results are recorded for a summary table.
#ifndef DSARL_TESTS_MODEL_OP_HARNESS_H_
#define DSARL_TESTS_MODEL_OP_HARNESS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "model/backend.h"

namespace dsarl::model::optest {

// Inputs are drawn O(1), so an output whose rms is below a tenth of that is compared absolutely:
// such an output is the difference of O(1) terms that cancelled (the query gradient of a one-key
// softmax is exactly 0; log-prob gradients of a one-token vocabulary add -g and +g), and float
// leaves it an error of a few ulps of those terms, which a relative error would blow up.
constexpr double kRmsFloor = 0.1;

// ||a - b|| / max(||b||, floor * sqrt(n)) over the elements where both are finite. +infinity when
// an element is NaN in either, or finite in one and not the other, or the two differ as infinities.
double NormalizedError(const float* a, const float* b, size_t n, double floor = kRmsFloor);

// The backends compared with ReferenceBackend(): the CPU backend, and every other backend this
// binary has and this machine can run.
std::vector<const Backend*> BackendsUnderTest();

enum class Init {
  kPoison,  // the op must write every element (it starts as a NaN with a payload)
  kRandom,  // the op adds into it: it starts from the same small random values on every backend
            // (so adding is told apart from overwriting) and the increments are compared
  kGiven,   // the op works in place on these values (OutputSpec::given)
};

struct OutputSpec {
  std::string name;
  size_t size = 0;  // elements the op addresses, from the pointer it is given
  Init init = Init::kPoison;
  std::vector<float> given;  // kGiven: the initial values
  std::vector<bool> gap;     // optional [size]: true = a stride gap the op must not touch
  double tol = -1;           // < 0: the case's tolerance
};

struct IntOutputSpec {
  std::string name;
  size_t size = 0;  // always poisoned: the op must write every element
};

// A float or int buffer with sentinels around it and in its gaps.
template <typename T>
class Guarded {
 public:
  static constexpr size_t kGuard = 67;  // an odd count, so misaligned overruns are caught too
  Guarded(size_t size, const std::vector<T>& init, const std::vector<bool>& gap);
  T* data() { return buf_.data() + kGuard; }
  const T* data() const { return buf_.data() + kGuard; }
  size_t size() const { return size_; }
  bool is_gap(size_t i) const { return !gap_.empty() && gap_[i]; }
  // "" when every sentinel is intact; else where the first overwritten one is.
  std::string CheckSentinels() const;
  // The elements that are not gaps, in order.
  std::vector<T> Values() const;
  // Values() minus the initial values: what an op that adds into the buffer added.
  std::vector<T> Increments() const;

 private:
  size_t size_;
  std::vector<bool> gap_;
  std::vector<T> init_;
  std::vector<T> buf_;
};

// What an op produced: its guarded outputs (in the order of the case's specs) and values that
// come back through other channels (activations, statistics, routed experts).
struct Outputs {
  std::vector<Guarded<float>> f;
  std::vector<Guarded<int>> i;
  std::map<std::string, std::vector<float>> extra;
  std::map<std::string, std::vector<int>> extra_int;
  float* F(int k) { return f[k].data(); }
  int* I(int k) { return i[k].data(); }
};

struct OpCase {
  std::string op;     // the Backend table field it exercises
  std::string shape;  // in words, for messages and the summary table
  double tol = 1e-5;  // normalized-error tolerance of every float output and extra
  std::vector<OutputSpec> outputs;
  std::vector<IntOutputSpec> int_outputs;
  // Runs the op on `be` writing into `out` (already allocated per the specs).
  std::function<void(const Backend& be, Outputs* out)> run;
  // Compares the int outputs and extra_int of the reference and a backend: "" when they agree;
  // adds to *near_ties the choices that differ legitimately (within a tolerance of their cut).
  // Without it they must be equal.
  std::function<std::string(const Outputs& ref, const Outputs& got, int* near_ties)>
      compare_discrete;
};

// A case by name; `make` draws the inputs from the generator it is given.
struct CaseDef {
  std::string name;  // [A-Za-z0-9_]: the test name
  std::function<OpCase(std::mt19937_64& rng)> make;
};

// Test names print as the case name.
inline void PrintTo(const CaseDef& c, std::ostream* os) { *os << c.name; }

struct CaseReport {
  double worst_error = 0;             // over outputs, extras and backends
  std::vector<std::string> failures;  // empty when the case passed
};

// Runs `c` on the reference and on every backend in `backends`; `seed` draws the initial values of
// kRandom outputs. Records the worst error per (op, backend) for PrintSummary when `record`.
CaseReport RunCase(const OpCase& c, const std::vector<const Backend*>& backends, uint64_t seed,
                   bool record = true);

// The table of ops: cases, worst normalized error and tolerance per backend, for every case run
// in this process, under the line `title`; nothing when no case ran.
void PrintSummary(const std::string& title);

// Top-k selections of two backends agree when each has min(topk, n) distinct valid indices, -1 in
// the remaining slots, ascending, and the two differ only among keys whose score (exact, from the
// reference inputs in double) lies within `tol` (absolute) of the k-th largest score. `row_what`
// names the row in messages. "" when they agree; *differing (optional) gets the number of keys
// only one of them selected.
std::string SelectionsAgree(const int* a, const int* b, const std::vector<double>& scores, int n,
                            int topk, double tol, const std::string& row_what,
                            int* differing = nullptr);

// The case's seed: DSARL_OP_TEST_SEED (default 1) mixed with the case name, so every case draws its
// own inputs and a failure names the seed that reproduces it.
uint64_t CaseSeed(const std::string& name);

// Random helpers.
std::vector<float> Normal(std::mt19937_64& rng, size_t n, float scale = 1.0f);
std::vector<int> UniformInts(std::mt19937_64& rng, size_t n, int lo, int hi);  // [lo, hi]

}  // namespace dsarl::model::optest

#endif  // DSARL_TESTS_MODEL_OP_HARNESS_H_

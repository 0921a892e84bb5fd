#include "tests/model/op_harness.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dsarl::model::optest {
namespace {

// Bit patterns: a sentinel no op computes, and a poison that is a NaN the harness recognizes.
constexpr uint32_t kFloatSentinel = 0x7fa5a5a5u;  // a signalling NaN with a payload
constexpr uint32_t kFloatPoison = 0x7fc0deadu;    // a quiet NaN with a payload
constexpr int kIntSentinel = 0x5a5a5a5a;
constexpr int kIntPoison = -0x3c3c3c3c;

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

template <typename T>
T Sentinel();
template <>
float Sentinel<float>() {
  return FromBits(kFloatSentinel);
}
template <>
int Sentinel<int>() {
  return kIntSentinel;
}

template <typename T>
bool SameBits(T a, T b) {
  if constexpr (std::is_same_v<T, float>) {
    return Bits(a) == Bits(b);
  } else {
    return a == b;
  }
}

struct SummaryRow {
  int cases = 0;
  int near_ties = 0;
  double worst = 0;
  double tol = 0;
  std::string worst_shape;
};

std::mutex summary_mu;
std::map<std::pair<std::string, std::string>, SummaryRow>& Summary() {
  static auto* s = new std::map<std::pair<std::string, std::string>, SummaryRow>;
  return *s;
}

// Allocates the outputs of `c`, initialized per spec; kRandom values come from `seed`, so every
// backend starts from the same numbers.
Outputs MakeOutputs(const OpCase& c, uint64_t seed) {
  Outputs o;
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  for (const OutputSpec& s : c.outputs) {
    std::vector<float> init(s.size);
    switch (s.init) {
      case Init::kPoison:
        std::fill(init.begin(), init.end(), FromBits(kFloatPoison));
        break;
      case Init::kRandom:
        init = Normal(rng, s.size, 0.05f);
        break;
      case Init::kGiven:
        init = s.given;
        break;
    }
    o.f.emplace_back(s.size, init, s.gap);
  }
  for (const IntOutputSpec& s : c.int_outputs) {
    o.i.emplace_back(s.size, std::vector<int>(s.size, kIntPoison), std::vector<bool>{});
  }
  return o;
}

// Buffer checks every backend (the reference too) must pass: sentinels intact, every element of a
// must-write output written, no NaN.
void CheckBuffers(const OpCase& c, const Outputs& o, const std::string& who,
                  std::vector<std::string>* failures) {
  for (size_t k = 0; k < o.f.size(); ++k) {
    const OutputSpec& s = c.outputs[k];
    const Guarded<float>& g = o.f[k];
    if (std::string bad = g.CheckSentinels(); !bad.empty()) {
      failures->push_back(absl::StrCat(who, ": output ", s.name, ": ", bad));
    }
    size_t unwritten = 0, nan = 0, first_unwritten = 0, first_nan = 0;
    for (size_t e = 0; e < g.size(); ++e) {
      if (g.is_gap(e)) continue;
      const float v = g.data()[e];
      if (s.init == Init::kPoison && Bits(v) == kFloatPoison) {
        if (unwritten++ == 0) first_unwritten = e;
      } else if (std::isnan(v)) {
        if (nan++ == 0) first_nan = e;
      }
    }
    if (unwritten > 0) {
      failures->push_back(
          absl::StrFormat("%s: output %s: %d of %d elements never written (first: %d)", who, s.name,
                          unwritten, g.size(), first_unwritten));
    }
    if (nan > 0) {
      failures->push_back(absl::StrFormat("%s: output %s: %d NaN elements (first: %d)", who, s.name,
                                          nan, first_nan));
    }
  }
  for (size_t k = 0; k < o.i.size(); ++k) {
    const Guarded<int>& g = o.i[k];
    if (std::string bad = g.CheckSentinels(); !bad.empty()) {
      failures->push_back(absl::StrCat(who, ": output ", c.int_outputs[k].name, ": ", bad));
    }
    const std::vector<int> v = g.Values();
    const size_t unwritten = std::count(v.begin(), v.end(), kIntPoison);
    if (unwritten > 0) {
      failures->push_back(absl::StrFormat("%s: output %s: %d of %d elements never written", who,
                                          c.int_outputs[k].name, unwritten, v.size()));
    }
  }
}

}  // namespace

double NormalizedError(const float* a, const float* b, size_t n, double floor) {
  const double inf = std::numeric_limits<double>::infinity();
  if (n == 0) return 0;
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return inf;
    const bool fa = std::isfinite(a[i]), fb = std::isfinite(b[i]);
    if (fa != fb) return inf;
    if (!fa) {
      if (a[i] != b[i]) return inf;
      continue;
    }
    const double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), floor * std::sqrt(double(n)));
}

std::vector<const Backend*> BackendsUnderTest() {
  // Another backend (CUDA) joins here when it is compiled in and a device answers.
  return {&CpuBackend()};
}

template <typename T>
Guarded<T>::Guarded(size_t size, const std::vector<T>& init, const std::vector<bool>& gap)
    : size_(size), gap_(gap), init_(init), buf_(size + 2 * kGuard, Sentinel<T>()) {
  for (size_t i = 0; i < size; ++i) {
    if (!is_gap(i)) buf_[kGuard + i] = init[i];
  }
}

template <typename T>
std::string Guarded<T>::CheckSentinels() const {
  for (size_t i = 0; i < buf_.size(); ++i) {
    const bool inside = i >= kGuard && i < kGuard + size_;
    if (inside && !is_gap(i - kGuard)) continue;
    if (SameBits(buf_[i], Sentinel<T>())) continue;
    if (!inside) {
      return i < kGuard
                 ? absl::StrCat("wrote ", kGuard - i, " element(s) before its start")
                 : absl::StrCat("wrote past its end (element ", i - kGuard, " of ", size_, ")");
    }
    return absl::StrCat("wrote stride gap element ", i - kGuard);
  }
  return "";
}

template <typename T>
std::vector<T> Guarded<T>::Values() const {
  std::vector<T> v;
  v.reserve(size_);
  for (size_t i = 0; i < size_; ++i) {
    if (!is_gap(i)) v.push_back(buf_[kGuard + i]);
  }
  return v;
}

template <typename T>
std::vector<T> Guarded<T>::Increments() const {
  std::vector<T> v;
  v.reserve(size_);
  for (size_t i = 0; i < size_; ++i) {
    if (!is_gap(i)) v.push_back(buf_[kGuard + i] - init_[i]);
  }
  return v;
}

template class Guarded<float>;
template class Guarded<int>;

CaseReport RunCase(const OpCase& c, const std::vector<const Backend*>& backends, uint64_t seed,
                   bool record) {
  CaseReport rep;
  const Backend& ref_be = ReferenceBackend();
  Outputs ref = MakeOutputs(c, seed);
  c.run(ref_be, &ref);
  CheckBuffers(c, ref, ref_be.name, &rep.failures);
  for (const Backend* be : backends) {
    Outputs got = MakeOutputs(c, seed);
    c.run(*be, &got);
    CheckBuffers(c, got, be->name, &rep.failures);
    double worst = 0;
    auto compare = [&](const std::string& name, const std::vector<float>& a,
                       const std::vector<float>& b, double tol) {
      if (a.size() != b.size()) {
        rep.failures.push_back(absl::StrFormat("%s: %s has %d elements, the reference %d", be->name,
                                               name, a.size(), b.size()));
        return;
      }
      const double err = NormalizedError(a.data(), b.data(), a.size());
      worst = std::max(worst, err);
      if (!(err <= tol)) {
        rep.failures.push_back(absl::StrFormat("%s: %s: normalized error %.3g > tolerance %.3g",
                                               be->name, name, err, tol));
      }
    };
    for (size_t k = 0; k < c.outputs.size(); ++k) {
      const double tol = c.outputs[k].tol >= 0 ? c.outputs[k].tol : c.tol;
      if (c.outputs[k].init == Init::kRandom) {
        compare(c.outputs[k].name, got.f[k].Increments(), ref.f[k].Increments(), tol);
      } else {
        compare(c.outputs[k].name, got.f[k].Values(), ref.f[k].Values(), tol);
      }
    }
    for (const auto& [name, values] : ref.extra) {
      auto it = got.extra.find(name);
      if (it == got.extra.end()) {
        rep.failures.push_back(absl::StrCat(be->name, ": no ", name));
        continue;
      }
      compare(name, it->second, values, c.tol);
    }
    int near_ties = 0;
    if (c.compare_discrete) {
      if (std::string diff = c.compare_discrete(ref, got, &near_ties); !diff.empty()) {
        rep.failures.push_back(absl::StrCat(be->name, ": ", diff));
      }
    } else {
      for (size_t k = 0; k < c.int_outputs.size(); ++k) {
        if (got.i[k].Values() != ref.i[k].Values()) {
          rep.failures.push_back(
              absl::StrCat(be->name, ": ", c.int_outputs[k].name, " differs from the reference"));
        }
      }
      if (got.extra_int != ref.extra_int) {
        rep.failures.push_back(absl::StrCat(be->name, ": discrete extras differ"));
      }
    }
    rep.worst_error = std::max(rep.worst_error, worst);
    if (!record) continue;
    std::lock_guard<std::mutex> lock(summary_mu);
    SummaryRow& row = Summary()[{c.op, be->name}];
    row.cases += 1;
    row.near_ties += near_ties;
    row.tol = std::max(row.tol, c.tol);
    if (worst >= row.worst) {
      row.worst = worst;
      row.worst_shape = c.shape;
    }
  }
  return rep;
}

void PrintSummary(const std::string& title) {
  std::lock_guard<std::mutex> lock(summary_mu);
  if (Summary().empty()) return;
  std::cout << "\n"
            << title
            << absl::StrFormat("\n%-22s %-10s %5s %12s %10s %9s  %s\n", "op", "backend", "cases",
                               "worst error", "tolerance", "near-ties", "worst case");
  for (const auto& [key, row] : Summary()) {
    std::cout << absl::StrFormat("%-22s %-10s %5d %12.3g %10.3g %9d  %s\n", key.first, key.second,
                                 row.cases, row.worst, row.tol, row.near_ties, row.worst_shape);
  }
}

std::string SelectionsAgree(const int* a, const int* b, const std::vector<double>& scores, int n,
                            int topk, double tol, const std::string& row_what, int* differing) {
  const int k = std::min(topk, n);
  for (const int* sel : {a, b}) {
    const char* who = sel == a ? "first" : "second";
    for (int j = 0; j < topk; ++j) {
      if (j < k) {
        if (sel[j] < 0 || sel[j] >= n) {
          return absl::StrFormat("%s: %s selection slot %d holds %d, not a key in [0, %d)",
                                 row_what, who, j, sel[j], n);
        }
        if (j > 0 && sel[j] <= sel[j - 1]) {
          return absl::StrFormat("%s: %s selection is not strictly ascending at slot %d", row_what,
                                 who, j);
        }
      } else if (sel[j] != -1) {
        return absl::StrFormat("%s: %s selection slot %d holds %d, expected -1 (only %d keys)",
                               row_what, who, j, sel[j], k);
      }
    }
  }
  if (k == n) return "";  // both hold every key
  std::vector<double> sorted(scores.begin(), scores.begin() + n);
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<double>());
  const double kth = sorted[k - 1];
  std::set<int> sa(a, a + k), sb(b, b + k);
  std::vector<int> diff;
  std::set_symmetric_difference(sa.begin(), sa.end(), sb.begin(), sb.end(),
                                std::back_inserter(diff));
  if (differing != nullptr) *differing += diff.size();
  for (int s : diff) {
    if (!(std::abs(scores[s] - kth) <= tol)) {
      return absl::StrFormat(
          "%s: key %d is selected by only one backend, but its score %.9g is %.3g from the k-th "
          "score %.9g (tolerance %.3g)",
          row_what, s, scores[s], std::abs(scores[s] - kth), kth, tol);
    }
  }
  return "";
}

uint64_t CaseSeed(const std::string& name) {
  const char* env = std::getenv("DSARL_OP_TEST_SEED");
  const uint64_t base = env == nullptr ? 1 : std::strtoull(env, nullptr, 10);
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the name
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  return h ^ (base * 0x9e3779b97f4a7c15ull);
}

std::vector<float> Normal(std::mt19937_64& rng, size_t n, float scale) {
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

std::vector<int> UniformInts(std::mt19937_64& rng, size_t n, int lo, int hi) {
  std::uniform_int_distribution<int> ud(lo, hi);
  std::vector<int> v(n);
  for (int& x : v) x = ud(rng);
  return v;
}

}  // namespace dsarl::model::optest

// The one random generator of the environments: splitmix64, seeded explicitly.
//
// Why our own and not <random>: the standard distributions (uniform_int_distribution, shuffle) are
// implementation-defined, so the same seed may give different tasks with another standard library.
// Everything an environment makes is a pure function of (category, parameters, seed); this header
// is the only source of randomness in envs/.
#ifndef DSARL_ENVS_RNG_H_
#define DSARL_ENVS_RNG_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>

namespace dsarl::envs {

// One splitmix64 step: a bijective mix of `x` (Steele, Lea, Flood 2014).
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A seed derived from several values, order-sensitive: DeriveSeed({env_seed, level, index}).
inline uint64_t DeriveSeed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x6a09e667f3bcc909ULL;
  for (uint64_t p : parts) h = Mix64(h ^ Mix64(p));
  return h;
}

// FNV-1a of a string, for seeding from names (e.g. a category name).
inline uint64_t HashString(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [lo, hi] (inclusive); lo when hi <= lo. Lemire's multiply-shift, no rejection:
  // the bias (< range / 2^64) is far below anything a task could show.
  int64_t Uniform(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
    if (range == 0) return static_cast<int64_t>(Next());  // the full 64-bit range
    const unsigned __int128 m = static_cast<unsigned __int128>(Next()) * range;
    return lo + static_cast<int64_t>(static_cast<uint64_t>(m >> 64));
  }

  // Uniform index in [0, n); 0 when n == 0.
  size_t Index(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Uniform(0, int64_t(n) - 1)); }

  // True with probability `p`.
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }

  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Index(items.size())];
  }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Index(N)];
  }

  // Fisher-Yates.
  template <typename T>
  void Shuffle(std::vector<T>* items) {
    for (size_t i = items->size(); i > 1; --i) std::swap((*items)[i - 1], (*items)[Index(i)]);
  }

  // `k` distinct indices of [0, n) in random order (all of them when k >= n).
  std::vector<size_t> Sample(size_t n, size_t k) {
    std::vector<size_t> all(n);
    for (size_t i = 0; i < n; ++i) all[i] = i;
    Shuffle(&all);
    if (k < n) all.resize(k);
    return all;
  }

 private:
  uint64_t state_;
};

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_RNG_H_

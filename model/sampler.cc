// Sampling with temperature, top-k and top-p in double precision, with deterministic tie-breaking
// (lower id first) so every machine keeps the same set and draws the same token for a seed.
#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace dsarl::model {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

absl::Status CheckLogits(absl::Span<const float> logits) {
  if (logits.empty()) return absl::InvalidArgumentError("sampling from empty logits");
  bool any_finite = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float z = logits[i];
    if (std::isnan(z) || z == std::numeric_limits<float>::infinity()) {
      return absl::InvalidArgumentError(absl::StrCat("logit of token ", i, " is ", z));
    }
    any_finite |= std::isfinite(z);
  }
  if (!any_finite) return absl::InvalidArgumentError("every logit is -inf");
  return absl::OkStatus();
}

absl::Status CheckParams(const SamplingParams& p) {
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be >= 0, got ", p.temperature));
  }
  if (p.top_k < 0)
    return absl::InvalidArgumentError(absl::StrCat("top_k must be >= 0, got ", p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1], got ", p.top_p));
  }
  return absl::OkStatus();
}

int32_t Argmax(absl::Span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

}  // namespace

Rng Rng::ForStream(uint64_t seed, uint64_t stream) {
  return Rng(seed ^ Mix64(stream * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull));
}

uint64_t Rng::NextU64() {
  state += 0x9E3779B97F4A7C15ull;
  return Mix64(state);
}

double Rng::NextDouble() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

absl::StatusOr<SampleResult> Sample(absl::Span<const float> logits, const SamplingParams& params,
                                    Rng* rng) {
  RETURN_IF_ERROR(CheckParams(params));
  RETURN_IF_ERROR(CheckLogits(logits));
  const int32_t vocab = static_cast<int32_t>(logits.size());
  if (params.temperature == 0.0f) {
    const int32_t token = Argmax(logits);
    return SampleResult{token, 0.0f, {token}};
  }

  // 1. Temperature; candidates are the ids with a finite scaled logit.
  std::vector<double> scaled(vocab);
  std::vector<int32_t> cand;
  cand.reserve(vocab);
  for (int32_t i = 0; i < vocab; ++i) {
    scaled[i] =
        std::isfinite(logits[i]) ? static_cast<double>(logits[i]) / params.temperature : kNegInf;
    if (scaled[i] != kNegInf) cand.push_back(i);
  }
  const auto higher = [&](int32_t a, int32_t b) {
    return scaled[a] != scaled[b] ? scaled[a] > scaled[b] : a < b;
  };
  // 2. Top-k (leaves `cand` sorted when it truncates).
  const bool cut_k = params.top_k > 0 && params.top_k < static_cast<int32_t>(cand.size());
  if (cut_k) {
    std::partial_sort(cand.begin(), cand.begin() + params.top_k, cand.end(), higher);
    cand.resize(params.top_k);
  }
  // 3. Top-p over the top-k survivors, renormalized.
  if (params.top_p < 1.0f) {
    if (!cut_k) std::sort(cand.begin(), cand.end(), higher);
    const double max = scaled[cand[0]];
    double total = 0.0;
    for (int32_t id : cand) total += std::exp(scaled[id] - max);
    double cumulative = 0.0;
    size_t keep = 0;
    while (keep < cand.size()) {
      cumulative += std::exp(scaled[cand[keep]] - max) / total;
      ++keep;
      if (cumulative >= params.top_p) break;
    }
    cand.resize(keep);
  }
  std::sort(cand.begin(), cand.end());

  // 4. Draw from the renormalized distribution over `cand`.
  double max = kNegInf;
  for (int32_t id : cand) max = std::max(max, scaled[id]);
  double total = 0.0;
  for (int32_t id : cand) total += std::exp(scaled[id] - max);
  const double target = rng->NextDouble() * total;
  int32_t token = cand.back();
  double cumulative = 0.0;
  for (int32_t id : cand) {
    cumulative += std::exp(scaled[id] - max);
    if (cumulative > target) {
      token = id;
      break;
    }
  }
  SampleResult result;
  result.token = token;
  result.logprob = static_cast<float>(scaled[token] - max - std::log(total));
  if (static_cast<int32_t>(cand.size()) < vocab) result.kept = std::move(cand);
  return result;
}

absl::StatusOr<std::vector<SampleResult>> SampleBatch(absl::Span<const float> logits, int32_t batch,
                                                      const SamplingParams& params, Rng* rng) {
  if (batch <= 0 || logits.size() % batch != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch ", batch, " does not divide ", logits.size(), " logits"));
  }
  const size_t vocab = logits.size() / batch;
  std::vector<SampleResult> results;
  results.reserve(batch);
  for (int32_t b = 0; b < batch; ++b) {
    absl::StatusOr<SampleResult> r = Sample(logits.subspan(b * vocab, vocab), params, rng);
    if (!r.ok()) return Annotate(r.status(), absl::StrCat("row ", b));
    results.push_back(*std::move(r));
  }
  return results;
}

absl::StatusOr<double> LogProbInKeptSet(absl::Span<const float> logits, int32_t token,
                                        absl::Span<const int32_t> kept, float temperature,
                                        absl::Span<float> grad_logits) {
  const int32_t vocab = static_cast<int32_t>(logits.size());
  if (!(temperature > 0.0f) || !std::isfinite(temperature)) {
    return absl::InvalidArgumentError(absl::StrCat("temperature must be > 0, got ", temperature));
  }
  if (token < 0 || token >= vocab) {
    return absl::InvalidArgumentError(absl::StrCat("token ", token, " outside [0, ", vocab, ")"));
  }
  if (!grad_logits.empty() && grad_logits.size() != logits.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("grad_logits has ", grad_logits.size(), " entries for ", vocab, " logits"));
  }
  std::vector<int32_t> set(kept.begin(), kept.end());
  if (set.empty()) {  // the whole vocabulary: nothing to check
    set.resize(vocab);
    for (int32_t i = 0; i < vocab; ++i) set[i] = i;
  } else {
    std::sort(set.begin(), set.end());
    for (size_t i = 0; i < set.size(); ++i) {
      if (set[i] < 0 || set[i] >= vocab) {
        return absl::InvalidArgumentError(
            absl::StrCat("kept id ", set[i], " outside [0, ", vocab, ")"));
      }
      if (i > 0 && set[i] == set[i - 1]) {
        return absl::InvalidArgumentError(absl::StrCat("kept set lists id ", set[i], " twice"));
      }
    }
    if (!std::binary_search(set.begin(), set.end(), token)) {
      return absl::InvalidArgumentError(absl::StrCat("token ", token, " is not in the kept set"));
    }
  }
  double max = kNegInf;
  for (int32_t id : set) {
    const float z = logits[id];
    if (std::isnan(z) || z == std::numeric_limits<float>::infinity()) {
      return absl::InvalidArgumentError(absl::StrCat("logit of token ", id, " is ", z));
    }
    max = std::max(max, static_cast<double>(z) / temperature);
  }
  if (max == kNegInf) return absl::InvalidArgumentError("every logit of the kept set is -inf");
  double total = 0.0;
  for (int32_t id : set) total += std::exp(static_cast<double>(logits[id]) / temperature - max);
  const double log_total = max + std::log(total);
  if (!grad_logits.empty()) {
    for (int32_t id : set) {
      const double p = std::exp(static_cast<double>(logits[id]) / temperature - log_total);
      grad_logits[id] += static_cast<float>(((id == token ? 1.0 : 0.0) - p) / temperature);
    }
  }
  return static_cast<double>(logits[token]) / temperature - log_total;
}

}  // namespace dsarl::model

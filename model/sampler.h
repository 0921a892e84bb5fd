// Token sampling for rollout, and the matching log-probability for the learner (SPEC §3, "keep
// sampling mask"). Why both live here: the learner must renormalize over exactly the set the
// sampler kept, with the same temperature, or the importance ratios are off.
//
// Order of operations, for logits z[V], temperature T, top_k K, top_p P:
//   1. temperature: s = z / T (T == 0 means greedy: the argmax, ties to the lowest id).
//   2. top-k (K > 0 and K < V): keep the K largest s; ties broken toward the lower id.
//   3. top-p (P < 1): over the top-k survivors, renormalized (softmax of their s), sorted by
//      probability descending (ties: lower id first), keep the shortest prefix whose probability
//      sum reaches P (>= P, in double; at least one token).
//   4. sample from softmax(s) renormalized over the kept tokens.
// Tokens whose logit is -inf (masked by the caller) have probability 0: never sampled, never kept.
// The reported log-probability is log softmax over the kept set, computed in double.
#ifndef DSARL_MODEL_SAMPLER_H_
#define DSARL_MODEL_SAMPLER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace dsarl::model {

// A seeded random stream: splitmix64 (Steele et al.), 64 bits of state, explicit and copyable, so
// the same seed always gives the same samples on every machine.
struct Rng {
  uint64_t state = 0;

  explicit Rng(uint64_t seed) : state(seed) {}
  // An independent stream for (seed, stream), e.g. stream = sample index within a group.
  static Rng ForStream(uint64_t seed, uint64_t stream);

  uint64_t NextU64();
  // Uniform in [0, 1), with 53 random bits.
  double NextDouble();
};

struct SamplingParams {
  float temperature = 1.0f;  // >= 0; 0 = greedy
  int32_t top_k = 0;         // 0 = off
  float top_p = 1.0f;        // in (0, 1]; 1 = off
};

struct SampleResult {
  int32_t token = 0;
  // log p(token) under the truncated, renormalized distribution it was drawn from [nats];
  // 0 for greedy.
  float logprob = 0.0f;
  // The support actually sampled from (ids kept by top-k/top-p, minus -inf logits), ascending;
  // empty when that is the whole vocabulary. Greedy keeps just {token}.
  std::vector<int32_t> kept;
};

// Samples one token from `logits` [V]. Consumes exactly one NextDouble() from `rng` (none when
// greedy). Returns InvalidArgument when logits is empty, contains NaN or +inf, or is all -inf, or
// when temperature < 0 (or not finite), top_k < 0, or top_p is not in (0, 1].
absl::StatusOr<SampleResult> Sample(absl::Span<const float> logits, const SamplingParams& params,
                                    Rng* rng);

// Samples each row of `logits` [B, V] (row-major, V = logits.size() / batch) in order with the
// same `rng`. Errors as Sample, naming the row; InvalidArgument when batch does not divide the
// size.
absl::StatusOr<std::vector<SampleResult>> SampleBatch(absl::Span<const float> logits, int32_t batch,
                                                      const SamplingParams& params, Rng* rng);

// log p(token) of softmax(logits / temperature) renormalized over `kept` (any order; empty = the
// whole vocabulary), in double: what the learner needs for pi_theta and pi_ref under the sampler's
// kept set. A greedy sample's kept set {token} gives 0. When `grad_logits` is non-empty (size V),
// adds d logp / d logits into it: (onehot(token) - p_kept) / temperature on kept ids, 0 elsewhere.
// Returns -inf when the token's logit is -inf. Returns InvalidArgument when temperature <= 0 or not
// finite, token or a kept id is outside [0, V), token is not in a non-empty `kept`, `kept` has
// duplicates, grad_logits is non-empty with a size other than V, or a logit of the set is NaN or
// +inf or all of them are -inf.
absl::StatusOr<double> LogProbInKeptSet(absl::Span<const float> logits, int32_t token,
                                        absl::Span<const int32_t> kept, float temperature = 1.0f,
                                        absl::Span<float> grad_logits = {});

}  // namespace dsarl::model

#endif  // DSARL_MODEL_SAMPLER_H_

// length_penalty and group_length (see length.h).
#include "rewards/length.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace dsarl::rewards {
namespace {

class LengthPenalty : public SampleRewardFunction {
 public:
  LengthPenalty(int64_t max_tokens, int64_t buffer) : max_(max_tokens), buffer_(buffer) {}

  absl::StatusOr<Components> Score(const proto::Prompt&, const Sample& sample) const override {
    const int64_t n = sample.num_generated_tokens;
    return Components{Component::Value(
        SoftOverlongPenalty(n, max_, buffer_),
        absl::StrFormat("%d tokens (free up to %d, -1 past %d)", n, max_ - buffer_, max_))};
  }

 private:
  int64_t max_;
  int64_t buffer_;
};

class GroupLength : public RewardFunction {
 public:
  GroupLength(double correct_threshold, bool required)
      : threshold_(correct_threshold), required_(required) {}

  absl::StatusOr<std::vector<Components>> ScoreGroup(
      const proto::Prompt& task, absl::Span<const Sample> samples) const override {
    int64_t lo = std::numeric_limits<int64_t>::max();
    int64_t hi = std::numeric_limits<int64_t>::min();
    for (const Sample& s : samples) {
      lo = std::min<int64_t>(lo, s.num_generated_tokens);
      hi = std::max<int64_t>(hi, s.num_generated_tokens);
    }
    std::vector<Components> out;
    for (size_t i = 0; i < samples.size(); ++i) {
      const Sample& s = samples[i];
      if (!s.verdict.has_value()) {
        if (required_) {
          return absl::FailedPreconditionError(
              absl::StrCat("prompt ", task.id(), " sample ", i,
                           ": no verdict from the "
                           "environment (set required=false for tasks without a verifier)"));
        }
        out.push_back({Component::NotApplicable("no verdict")});
        continue;
      }
      const double lambda =
          hi == lo ? 0.0 : 0.5 - static_cast<double>(s.num_generated_tokens - lo) / (hi - lo);
      const bool correct = s.verdict->score >= threshold_;
      const double value = correct ? lambda : std::min(0.0, lambda);
      out.push_back({Component::Value(
          value, absl::StrFormat("%d tokens in [%d, %d], %s", s.num_generated_tokens, lo, hi,
                                 correct ? "correct" : "wrong"))});
    }
    return out;
  }

 private:
  double threshold_;
  bool required_;
};

}  // namespace

double SoftOverlongPenalty(int64_t n, int64_t max_tokens, int64_t buffer_tokens) {
  if (n > max_tokens) return -1;
  const int64_t free = max_tokens - buffer_tokens;
  if (n <= free) return 0;
  return -static_cast<double>(n - free) / static_cast<double>(buffer_tokens);
}

absl::StatusOr<std::unique_ptr<RewardFunction>> NewLengthPenalty(const Params& params) {
  if (!params.Has("max_tokens")) return params.Error("max_tokens", "is required");
  ASSIGN_OR_RETURN(int64_t max_tokens, params.Int("max_tokens", 0));
  ASSIGN_OR_RETURN(int64_t buffer, params.Int("buffer_tokens", 0));
  if (max_tokens <= 0) return params.Error("max_tokens", "must be > 0");
  if (buffer < 0 || buffer > max_tokens) {
    return params.Error("buffer_tokens",
                        absl::StrCat("must be in [0, max_tokens = ", max_tokens, "]"));
  }
  return std::make_unique<LengthPenalty>(max_tokens, buffer);
}

absl::StatusOr<std::unique_ptr<RewardFunction>> NewGroupLength(const Params& params) {
  ASSIGN_OR_RETURN(double threshold, params.Double("correct_threshold", 1));
  ASSIGN_OR_RETURN(bool required, params.Bool("required", true));
  return std::make_unique<GroupLength>(threshold, required);
}

}  // namespace dsarl::rewards

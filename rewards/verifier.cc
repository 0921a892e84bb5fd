// The environment-verifier reward (see verifier.h).
#include "rewards/verifier.h"

#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace dsarl::rewards {
namespace {

class Verifier : public SampleRewardFunction {
 public:
  Verifier(bool required, std::optional<double> threshold)
      : required_(required), threshold_(threshold) {}

  absl::StatusOr<Components> Score(const proto::Prompt& task, const Sample& sample) const override {
    if (!sample.verdict.has_value()) {
      if (required_) {
        return absl::FailedPreconditionError(
            absl::StrCat("prompt ", task.id(),
                         ": no verdict from the environment (set required=false for "
                         "tasks without a verifier)"));
      }
      return Components{Component::NotApplicable("no verdict")};
    }
    const double score = sample.verdict->score;
    if (!(score >= 0 && score <= 1)) {
      return absl::FailedPreconditionError(
          absl::StrFormat("prompt %d: verdict score %g is outside [0, 1]", task.id(), score));
    }
    if (!threshold_.has_value()) {
      return Components{Component::Value(score, sample.verdict->details)};
    }
    const bool pass = score >= *threshold_;
    return Components{Component::Value(
        pass ? 1 : 0, absl::StrFormat("score %g %s %g: %s", score, pass ? ">=" : "<", *threshold_,
                                      sample.verdict->details))};
  }

 private:
  bool required_;
  std::optional<double> threshold_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RewardFunction>> NewVerifier(const Params& params) {
  ASSIGN_OR_RETURN(bool required, params.Bool("required", true));
  std::optional<double> threshold;
  if (params.Has("threshold")) {
    ASSIGN_OR_RETURN(threshold, params.Double("threshold", 0));
  }
  return std::make_unique<Verifier>(required, threshold);
}

}  // namespace dsarl::rewards

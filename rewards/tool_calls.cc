// The tool-call count reward (see tool_calls.h).
#include "rewards/tool_calls.h"

#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace dsarl::rewards {
namespace {

enum class Mode { kCount, kInRange, kOverBudget };
enum class What { kCalls, kErrors, kValid };

class ToolCalls : public SampleRewardFunction {
 public:
  ToolCalls(Mode mode, What what, int64_t min, std::optional<int64_t> max, bool without_tools)
      : mode_(mode), what_(what), min_(min), max_(max), without_tools_(without_tools) {}

  absl::StatusOr<Components> Score(const proto::Prompt& task, const Sample& sample) const override {
    if (task.tools().empty() && !without_tools_) {
      return Components{Component::NotApplicable("the task offers no tools")};
    }
    const int64_t calls = CountToolCalls(sample);
    const int64_t errors = CountToolErrors(sample);
    int64_t n = calls;
    if (what_ == What::kErrors) n = errors;
    if (what_ == What::kValid) n = calls - errors;
    const std::string details = absl::StrFormat("%d call(s), %d error(s)", calls, errors);
    switch (mode_) {
      case Mode::kCount:
        return Components{Component::Value(static_cast<double>(n), details)};
      case Mode::kInRange: {
        const bool in = n >= min_ && (!max_.has_value() || n <= *max_);
        return Components{Component::Value(in ? 1 : 0, details)};
      }
      case Mode::kOverBudget:
        return Components{
            Component::Value(-static_cast<double>(std::max<int64_t>(0, n - *max_)), details)};
    }
    return absl::InternalError("unknown mode");
  }

 private:
  Mode mode_;
  What what_;
  int64_t min_;
  std::optional<int64_t> max_;
  bool without_tools_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RewardFunction>> NewToolCalls(const Params& params) {
  Mode mode;
  const std::string m = params.String("mode", "count");
  if (m == "count") {
    mode = Mode::kCount;
  } else if (m == "in_range") {
    mode = Mode::kInRange;
  } else if (m == "over_budget") {
    mode = Mode::kOverBudget;
  } else {
    return params.Error("mode", absl::StrCat("'", m, "': expected count, in_range or over_budget"));
  }
  What what;
  const std::string w = params.String("what", "calls");
  if (w == "calls") {
    what = What::kCalls;
  } else if (w == "errors") {
    what = What::kErrors;
  } else if (w == "valid") {
    what = What::kValid;
  } else {
    return params.Error("what", absl::StrCat("'", w, "': expected calls, errors or valid"));
  }
  ASSIGN_OR_RETURN(int64_t min, params.Int("min", 0));
  std::optional<int64_t> max;
  if (params.Has("max")) {
    ASSIGN_OR_RETURN(max, params.Int("max", 0));
  }
  ASSIGN_OR_RETURN(bool without_tools, params.Bool("applies_without_tools", false));
  if (min < 0) return params.Error("min", "must be >= 0");
  if (max.has_value() && *max < min) return params.Error("max", "must be >= min");
  if (mode == Mode::kOverBudget && !max.has_value()) {
    return params.Error("max", "is required by mode over_budget");
  }
  return std::make_unique<ToolCalls>(mode, what, min, max, without_tools);
}

}  // namespace dsarl::rewards

// knapsack: the best total value of items that fit a weight limit (2 to 7 items; every subset is
// tried).
#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/names.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

class KnapsackEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    return std::unique_ptr<Environment>(new KnapsackEnv(spec, static_cast<int>(style)));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    const int n = level + 2 + (level == 4 ? static_cast<int>(rng.Index(2)) : 0);
    std::vector<std::string> names, shown;
    std::vector<int64_t> w, v;
    int64_t total = 0;
    for (size_t i : rng.Sample(CommonWords().size(), n)) {
      names.push_back(CommonWords()[i]);
      w.push_back(rng.Uniform(1, 4 + 2 * level));
      v.push_back(rng.Uniform(1, 10 + 5 * level));
      total += w.back();
      shown.push_back(absl::StrCat(names.back(), " (weight ", w.back(), ", value ", v.back(), ")"));
    }
    const int64_t capacity = std::max<int64_t>(1, total / 2 + rng.Uniform(-1, 1));
    int64_t best = 0;
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
      int64_t sw = 0, sv = 0;
      for (int i = 0; i < n; ++i) {
        if (mask & (1u << i)) sw += w[i], sv += v[i];
      }
      if (sw <= capacity) best = std::max(best, sv);
    }
    static constexpr const char* kT[] = {
        "A bag holds a weight of at most %c. Items: %i.", "Capacity %c. Items: %i.",
        "You can carry weight %c. Items: %i.", "Weight limit %c; items: %i."};
    std::string user = kT[style_];
    user.replace(user.find("%c"), 2, std::to_string(capacity));
    user.replace(user.find("%i"), 2, absl::StrJoin(shown, ", "));
    user += " What is the largest total value that fits?";
    return Problem{user, std::to_string(best), AnswerMatch::kInteger};
  }

 private:
  KnapsackEnv(const proto::EnvSpec& spec, int style)
      : SingleTurnEnvironment(spec,
                              SingleTurnSystem("Each item can be taken at most once.", style)),
        style_(style) {}
  int style_;
};

}  // namespace

Category KnapsackCategory() {
  return SingleTurnCategory<KnapsackEnv>("knapsack",
                                         "best value within a weight limit, 2 to 7 items");
}

}  // namespace dsarl::envs

// sorting: sort numbers or words. Level 0 sorts three single digits ascending; later levels add
// length, negative numbers, descending order, words and duplicates.
#include <algorithm>
#include <functional>
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

class SortingEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    ASSIGN_OR_RETURN(int64_t sep, IntParam(spec, "comma", 0, 0, 1));
    return std::unique_ptr<Environment>(new SortingEnv(spec, static_cast<int>(style), sep == 1));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    const char* sep = comma_ ? ", " : " ";
    if (level == 3) {  // words, alphabetical
      std::vector<std::string> w;
      for (size_t i : rng.Sample(CommonWords().size(), rng.Uniform(5, 7))) {
        w.push_back(CommonWords()[i]);
      }
      std::string user = absl::StrCat("Sort alphabetically: ", absl::StrJoin(w, sep));
      std::sort(w.begin(), w.end());
      return Problem{user, absl::StrJoin(w, sep), AnswerMatch::kList};
    }
    static constexpr int kCount[] = {3, 5, 6, 0, 8};
    static constexpr int64_t kLo[] = {0, 0, -50, 0, 100}, kHi[] = {9, 99, 50, 0, 999};
    std::vector<int64_t> xs;
    for (int i = 0; i < kCount[level]; ++i) xs.push_back(rng.Uniform(kLo[level], kHi[level]));
    if (level == 4) xs[rng.Index(xs.size())] = xs[0];  // a duplicate
    const bool descending = level >= 2 && rng.Chance(0.5);
    static constexpr const char* kT[] = {"Sort: %s", "Sort in ascending order: %s",
                                         "Put in order, smallest first: %s", "Order these: %s"};
    std::string user = descending ? "Sort from largest to smallest: %s" : kT[style_];
    user.replace(user.find("%s"), 2, absl::StrJoin(xs, sep));
    if (descending) {
      std::sort(xs.begin(), xs.end(), std::greater<int64_t>());
    } else {
      std::sort(xs.begin(), xs.end());
    }
    return Problem{user, absl::StrJoin(xs, sep), AnswerMatch::kList};
  }

 private:
  SortingEnv(const proto::EnvSpec& spec, int style, bool comma)
      : SingleTurnEnvironment(spec, SingleTurnSystem("Sort the list.", style)),
        style_(style),
        comma_(comma) {}
  int style_;
  bool comma_;
};

}  // namespace

Category SortingCategory() {
  return SingleTurnCategory<SortingEnv>(
      "sorting", "sort numbers (three digits at level 0) or words, either order",
      [](Rng& rng, std::map<std::string, std::string>* p) {
        (*p)["comma"] = std::to_string(rng.Uniform(0, 1));
      });
}

}  // namespace dsarl::envs

// number_sequence: the next term of a sequence with a hidden rule: constant step, constant ratio,
// Fibonacci-like sums, quadratic, or two interleaved sequences.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

class NumberSequenceEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    ASSIGN_OR_RETURN(int64_t shown, IntParam(spec, "shown", 5, 4, 7));
    return std::unique_ptr<Environment>(
        new NumberSequenceEnv(spec, static_cast<int>(style), static_cast<int>(shown)));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    std::vector<int64_t> s;
    const int n = shown_ + 1;  // the last one is the answer
    switch (level) {
      case 0: {
        const int64_t a = rng.Uniform(0, 30), d = rng.Uniform(1, 6);
        for (int i = 0; i < n; ++i) s.push_back(a + d * i);
        break;
      }
      case 1: {
        const int64_t a = rng.Uniform(-20, 50), d = rng.Uniform(-12, 12) | 1;
        for (int i = 0; i < n; ++i) s.push_back(a + d * i);
        break;
      }
      case 2: {
        const int64_t a = rng.Uniform(1, 12), r = rng.Uniform(2, 5) * (rng.Chance(0.2) ? -1 : 1);
        s.push_back(a);
        for (int i = 1; i < n; ++i) s.push_back(s.back() * r);
        break;
      }
      case 3: {
        s = {rng.Uniform(0, 30), rng.Uniform(1, 30)};
        while (static_cast<int>(s.size()) < n) s.push_back(s[s.size() - 1] + s[s.size() - 2]);
        break;
      }
      default: {
        if (rng.Chance(0.5)) {  // quadratic: a i^2 + b i + c
          const int64_t a = rng.Uniform(1, 3), b = rng.Uniform(-5, 5), c = rng.Uniform(-10, 10);
          for (int64_t i = 0; i < n; ++i) s.push_back(a * i * i + b * i + c);
        } else {  // two interleaved arithmetic sequences
          const int64_t a = rng.Uniform(0, 20), d = rng.Uniform(1, 5);
          const int64_t b = rng.Uniform(30, 60), e = -rng.Uniform(1, 5);
          for (int64_t i = 0; i < n; ++i)
            s.push_back(i % 2 == 0 ? a + d * (i / 2) : b + e * (i / 2));
        }
      }
    }
    const int64_t answer = s.back();
    s.pop_back();
    static constexpr const char* kT[] = {"What comes next: %s, ?", "Next number: %s, ...",
                                         "Continue the sequence: %s", "%s, what is next?"};
    std::string user = kT[style_];
    user.replace(user.find("%s"), 2, absl::StrJoin(s, ", "));
    return Problem{user, std::to_string(answer), AnswerMatch::kInteger};
  }

 private:
  NumberSequenceEnv(const proto::EnvSpec& spec, int style, int shown)
      : SingleTurnEnvironment(spec,
                              SingleTurnSystem("Find the rule and give the next term.", style)),
        style_(style),
        shown_(shown) {}
  int style_;
  int shown_;
};

}  // namespace

Category NumberSequenceCategory() {
  return SingleTurnCategory<NumberSequenceEnv>(
      "number_sequence", "next term: arithmetic, geometric, Fibonacci-like, quadratic, interleaved",
      [](Rng& rng, std::map<std::string, std::string>* p) {
        (*p)["shown"] = std::to_string(rng.Uniform(4, 6));
      });
}

}  // namespace dsarl::envs

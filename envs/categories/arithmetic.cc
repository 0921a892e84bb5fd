// arithmetic: evaluate +, -, *, / expressions. Level 0 is one operation on single digits (a tiny
// model can learn it); each level adds digits, then operands, then parentheses. Division is exact.
#include <array>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

int64_t Apply(char op, int64_t a, int64_t b) {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    default:
      return b == 0 ? 0 : a / b;
  }
}

bool Binds(char op) { return op == '*' || op == '/'; }

class ArithmeticEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    std::string ops = "+-*/";
    if (auto it = spec.params().find("ops"); it != spec.params().end()) ops = it->second;
    if (ops.empty() || ops.find_first_not_of("+-*/") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("arithmetic: ops='", ops, "' must be a non-empty subset of +-*/"));
    }
    return std::unique_ptr<Environment>(new ArithmeticEnv(spec, static_cast<int>(style), ops));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    static constexpr int kDigits[] = {1, 2, 2, 2, 3};
    const int operands = level <= 2 ? 2 : (level == 3 ? 3 : 4);
    const int64_t hi = level == 0 ? 9 : (kDigits[level] == 2 ? 99 : 999);
    auto number = [&](int i) {
      if (level == 1 && i == 1) return rng.Uniform(1, 9);  // two digits op one digit
      return rng.Uniform(level == 0 ? 0 : 1, hi);
    };
    // Fixed-size: at most 4 operands. (Growing vectors here made GCC 12 see a write past the end
    // of the operator buffer, -Wstringop-overflow, in the '/' -> '*' loop below.)
    std::array<int64_t, 4> v{};
    std::array<char, 3> op{};
    for (int i = 0; i < operands; ++i) v[i] = number(i);
    for (int i = 0; i + 1 < operands; ++i) op[i] = ops_[rng.Index(ops_.size())];
    std::string expr;
    int64_t answer = 0;
    if (operands == 2) {
      if (op[0] == '/') {  // a / b with an exact quotient
        v[1] = std::max<int64_t>(1, v[1] % (level == 0 ? 10 : 13));
        v[0] = v[1] * rng.Uniform(level == 0 ? 0 : 1, level == 0 ? 9 / v[1] : 12);
      }
      if (level == 0 && op[0] == '-' && v[0] < v[1]) std::swap(v[0], v[1]);
      expr = absl::StrCat(v[0], " ", std::string(1, op[0]), " ", v[1]);
      answer = Apply(op[0], v[0], v[1]);
    } else {
      for (int i = 0; i + 1 < operands; ++i) {
        if (op[i] == '/') op[i] = '*';  // exact division inside longer expressions is rare
      }
      if (operands == 3) {  // precedence: a op b op c
        expr = absl::StrCat(v[0], " ", std::string(1, op[0]), " ", v[1], " ", std::string(1, op[1]),
                            " ", v[2]);
        answer = Binds(op[1]) && !Binds(op[0]) ? Apply(op[0], v[0], Apply(op[1], v[1], v[2]))
                                               : Apply(op[1], Apply(op[0], v[0], v[1]), v[2]);
      } else {  // (a op b) op (c op d)
        expr = absl::StrCat("(", v[0], " ", std::string(1, op[0]), " ", v[1], ") ",
                            std::string(1, op[1]), " (", v[2], " ", std::string(1, op[2]), " ",
                            v[3], ")");
        answer = Apply(op[1], Apply(op[0], v[0], v[1]), Apply(op[2], v[2], v[3]));
      }
    }
    // Each environment words its questions two ways (its style picks the pair).
    static constexpr const char* kTemplates[] = {"What is %s?",  "Compute %s.", "%s = ?",
                                                 "Evaluate: %s", "%s is?",      "Calculate %s.",
                                                 "%s =",         "Work out %s."};
    std::string user = kTemplates[style_ + 4 * rng.Index(2)];
    user.replace(user.find("%s"), 2, expr);
    return Problem{user, std::to_string(answer), AnswerMatch::kInteger};
  }

 private:
  ArithmeticEnv(const proto::EnvSpec& spec, int style, std::string ops)
      : SingleTurnEnvironment(spec, SingleTurnSystem("Solve the arithmetic problem.", style)),
        style_(style),
        ops_(std::move(ops)) {}
  int style_;
  std::string ops_;
};

}  // namespace

Category ArithmeticCategory() {
  return SingleTurnCategory<ArithmeticEnv>(
      "arithmetic", "evaluate +, -, *, / expressions: one digit at level 0 up to four operands",
      [](Rng& rng, std::map<std::string, std::string>* p) {
        static const char* kOps[] = {"+", "+-", "+-*", "+-*/", "*", "-*", "+*", "+-/"};
        (*p)["ops"] = rng.Pick(kOps);
      });
}

}  // namespace dsarl::envs

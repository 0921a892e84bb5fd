// base_conversion: write numbers in bases 2 to 16, and add binary numbers.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

std::string ToBase(int64_t n, int base) {
  if (n == 0) return "0";
  std::string out;
  while (n > 0) {
    out.insert(out.begin(), "0123456789abcdef"[n % base]);
    n /= base;
  }
  return out;
}

const char* BaseName(int base) {
  switch (base) {
    case 2:
      return "binary";
    case 8:
      return "octal";
    case 10:
      return "decimal";
    case 16:
      return "hexadecimal";
    default:
      return nullptr;
  }
}

std::string Describe(int base) {
  const char* name = BaseName(base);
  return name != nullptr ? std::string(name) : absl::StrCat("base ", base);
}

class BaseConversionEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    return std::unique_ptr<Environment>(new BaseConversionEnv(spec, static_cast<int>(style)));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    int from = 10, to = 2;
    int64_t n = 0;
    switch (level) {
      case 0:
        n = rng.Uniform(0, 63);
        if (rng.Chance(0.5)) std::swap(from, to);
        break;
      case 1:
        n = rng.Uniform(16, 1023);
        std::swap(from, to);
        break;
      case 2:
        n = rng.Uniform(16, 4095);
        to = 16;
        if (rng.Chance(0.5)) std::swap(from, to);
        break;
      case 3:
        n = rng.Uniform(50, 5000);
        from = static_cast<int>(rng.Uniform(2, 16));
        do {
          to = static_cast<int>(rng.Uniform(2, 16));
        } while (to == from);
        break;
      default: {
        const int64_t a = rng.Uniform(8, 255), b = rng.Uniform(8, 255);
        return Problem{absl::StrCat("Add the binary numbers ", ToBase(a, 2), " and ", ToBase(b, 2),
                                    ". Answer in binary."),
                       ToBase(a + b, 2), AnswerMatch::kText};
      }
    }
    static constexpr const char* kT[] = {"Convert %n from %f to %t.",
                                         "Write the %f number %n in %t.", "%n (%f) in %t is?",
                                         "What is %f %n in %t?"};
    std::string user = kT[style_];
    user.replace(user.find("%n"), 2, ToBase(n, from));
    user.replace(user.find("%f"), 2, Describe(from));
    user.replace(user.find("%t"), 2, Describe(to));
    return Problem{user, ToBase(n, to), AnswerMatch::kText};
  }

 private:
  BaseConversionEnv(const proto::EnvSpec& spec, int style)
      : SingleTurnEnvironment(
            spec, SingleTurnSystem("Convert between number bases; digits above 9 are a-f, "
                                   "no prefix.",
                                   style)),
        style_(style) {}
  int style_;
};

}  // namespace

Category BaseConversionCategory() {
  return SingleTurnCategory<BaseConversionEnv>(
      "base_conversion", "numbers between bases 2 to 16, and binary addition");
}

}  // namespace dsarl::envs
